// Package gridconfig finds the storage servers and encoding parameters a
// command should use: from --server NURLs, a grid file in the schema of a
// Tahoe node's private/servers.yaml, a Tahoe node directory (its
// servers.yaml, cached introducer announcements, tahoe.cfg and convergence
// secret), or $TAHOE_WATCH_GRID, in that order of precedence.
//
// Every parser here reads files a user or a Tahoe node wrote; errors name
// the file and line.
package gridconfig
