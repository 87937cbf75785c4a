// Package watcher watches Tahoe-LAFS mutable files and directories and
// reports each new verified version once.
//
// A Watcher maps every watched cap across the grid, then keeps one watch
// connection (internal/watchproto) per storage server that can push,
// shared by all caps, subscribed with each file's fingerprint and the last
// seqnum it verified. Servers that cannot push, refuse, or keep failing
// are polled instead: one small read of each share's header per poll
// interval, while push is retried with backoff and jitter.
//
// Notices and poll results are hints. A hint of a newer seqnum starts a
// verification: a servermap update that checks every share's signature.
// Only when the new version is recoverable (at least k verified shares)
// is a change reported, so a lying or rolled-back server costs one
// verification and never yields an event. Events for one file come in
// increasing seqnum order and never repeat.
//
// Every refresh interval each server is resubscribed on a fresh connection
// (the old one is closed only after the new subscription is acknowledged)
// and then every cap is re-mapped, which also finds servers that newly
// hold shares. After any reconnect the subscription carries the known
// seqnums, so changes made while disconnected are reported once.
//
// With Recursive, a watched directory's mutable children are watched too,
// following entries as they come and go, and a directory change is
// reported as added, removed and modified entries with their paths.
package watcher
