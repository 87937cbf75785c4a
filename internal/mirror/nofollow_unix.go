//go:build unix

package mirror

import "syscall"

const syscallNoFollow = syscall.O_NOFOLLOW
