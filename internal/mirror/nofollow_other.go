//go:build !unix

package mirror

const syscallNoFollow = 0
