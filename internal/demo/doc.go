// Package demo runs "tahoe-watch demo": an embedded grid of storage
// servers with watch endpoints on loopback, a directory of a few files
// that a background writer keeps changing, and the ordinary watcher on it,
// so that a newcomer sees live pushed events with no setup.
package demo
