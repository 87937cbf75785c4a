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
// A hint costs bounded work: hints from one server that a verification
// does not bear out make the watcher ignore that server's hints about that
// cap for a while (doubling), and a server that keeps sending them is
// polled until the next refresh, with a warning naming it. Every share
// that fails verification, or goes back below a seqnum seen on its server,
// is reported in a warning naming the server (a cap's first map reads
// one share, the servers' subscribe acknowledgements standing for the
// others, so shares it did not read are verified by the first full
// re-map).
//
// Every refresh interval each server is resubscribed on its live
// connection, and the acknowledgement, which carries each share's seqnum
// and root hash, is compared with the last verified map: only caps the
// acknowledgement disagrees about (including a server that newly holds
// shares), and those not yet settled, are re-mapped, so an idle watch
// costs the servers no GBS request. Every Remap interval every cap is
// re-mapped regardless. After any reconnect the subscription carries the
// known seqnums, so changes made while disconnected are reported once.
//
// With Recursive, a watched directory's mutable children are watched too,
// following entries as they come and go, and a directory change is
// reported as added, removed and modified entries with their paths.
package watcher
