package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/upload"
)

// EnvConvergence names the file holding the convergence secret used when
// no Tahoe node directory supplies one.
const EnvConvergence = "TAHOE_WATCH_CONVERGENCE"

// writeOptions are the flags shared by the commands that write to the
// grid (put, mkdir, rm).
type writeOptions struct {
	grid       gridOptions
	needed     int
	happy      int
	total      int
	format     string
	convergent string // for tests: the convergence secret file
	timeout    time.Duration
}

func addWriteFlags(cmd *cobra.Command, o *writeOptions, format bool) {
	addGridFlags(cmd, &o.grid)
	f := cmd.Flags()
	f.IntVarP(&o.needed, "shares-needed", "k", 0, "`K` shares needed to read a new file (default: the node's tahoe.cfg, else 3)")
	f.IntVar(&o.happy, "shares-happy", 0, "`N` servers that must hold distinct shares for a write to succeed (default: tahoe.cfg, else 7 capped to the grid size)")
	f.IntVarP(&o.total, "shares-total", "N", 0, "`N` shares made of a new file (default: tahoe.cfg, else 10 capped to the grid size)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "treat a server that has not answered a request after this long as failed")
	if format {
		f.StringVar(&o.format, "format", "sdmf", "`FORMAT` of new mutable files and directories: sdmf or mdmf")
	}
}

// writer is a loaded grid with everything the write commands use.
type writer struct {
	cfg     *gridconfig.Config
	clients *publish.Clients
	pub     *publish.Publisher
	ed      *dirop.Editor
	params  publish.Params
	enc     gridconfig.Encoding
}

func (w *writer) Close() { w.clients.Close() }

// open loads the grid and works out the encoding.
func (o *writeOptions) open(ctx context.Context) (*writer, error) {
	const op = "encoding"
	f := cap.SDMF
	switch strings.ToLower(o.format) {
	case "", "sdmf":
	case "mdmf":
		f = cap.MDMF
	default:
		return nil, errkind.E(op, errkind.Usage, "--format %q: want sdmf or mdmf", o.format)
	}
	cfg, err := o.grid.load(ctx)
	if err != nil {
		return nil, err
	}
	enc, err := o.encoding(cfg)
	if err != nil {
		return nil, err
	}
	lease, err := o.leaseSecret()
	if err != nil {
		return nil, err
	}
	cl := &publish.Clients{Options: &grid.Options{}}
	pub := &publish.Publisher{Grid: cfg.Grid, Dial: cl.Dial, Happy: enc.Happy, LeaseSecret: lease, Timeout: o.timeout}
	prm := publish.Params{Format: f, K: enc.Needed, N: enc.Total}
	return &writer{cfg: cfg, clients: cl, pub: pub, params: prm, enc: enc,
		ed: &dirop.Editor{Pub: pub, New: prm}}, nil
}

// encoding is tahoe.cfg's encoding when a node dir was used, else Tahoe's
// default capped to the grid size; flags override either.
func (o *writeOptions) encoding(cfg *gridconfig.Config) (gridconfig.Encoding, error) {
	e := cfg.Encoding
	if cfg.Convergence == nil { // no node directory: fit the default to the grid
		s := max(len(cfg.Grid.Reachable()), 1)
		e.Total = min(e.Total, s)
		e.Happy = min(e.Happy, e.Total)
		e.Needed = min(e.Needed, e.Total)
	}
	for _, f := range []struct{ flag, dst *int }{{&o.needed, &e.Needed}, {&o.happy, &e.Happy}, {&o.total, &e.Total}} {
		if *f.flag != 0 {
			*f.dst = *f.flag
		}
	}
	if e.Needed < 1 || e.Needed > e.Total || e.Total > 256 || e.Happy < 1 || e.Happy > e.Total {
		return e, errkind.E("encoding", errkind.Usage,
			"shares-needed %d, shares-happy %d, shares-total %d: want 1 <= needed <= total <= 256 and 1 <= happy <= total", e.Needed, e.Happy, e.Total)
	}
	return e, nil
}

// convergence returns the node's convergence secret, or tahoe-watch's
// own: the file $TAHOE_WATCH_CONVERGENCE, else
// <user config dir>/tahoe-watch/convergence, made on first use with a
// random 32-byte secret in Tahoe's format (base32, as a node's
// private/convergence).
func (w *writer) convergence(o *writeOptions) ([]byte, error) {
	if w.cfg.Convergence != nil {
		return w.cfg.Convergence, nil
	}
	path := o.convergent
	if path == "" {
		path = os.Getenv(EnvConvergence)
	}
	return secretFile("convergence", path)
}

// leaseSecret returns the master lease secret: the node's private/secret
// with --node-dir (or $TAHOE_WATCH_NODE_DIR), so that the node can renew
// the leases tahoe-watch adds, else tahoe-watch's own
// <user config dir>/tahoe-watch/lease-secret, made on first use.
func (o *writeOptions) leaseSecret() ([]byte, error) {
	dir := o.grid.nodeDir
	if dir == "" {
		dir = os.Getenv(gridconfig.EnvNodeDir)
	}
	if dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "private", "secret")); err == nil {
			if s, err := base32.Decode(strings.TrimSpace(string(b))); err == nil {
				return s, nil
			}
		}
	}
	return secretFile("lease-secret", "")
}

// secretFile reads a base32 secret from path (default
// <user config dir>/tahoe-watch/name), creating it with 32 random bytes
// if it does not exist.
func secretFile(name, path string) ([]byte, error) {
	op := "secret " + name
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return nil, errkind.E(op, errkind.Usage, "no place to keep the %s secret (%v): set $%s or use --node-dir", name, err, EnvConvergence)
		}
		path = filepath.Join(dir, "tahoe-watch", name)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, secret); err != nil {
			return nil, errkind.E(op, errkind.Other, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, errkind.E(op, errkind.Other, err)
		}
		if err := os.WriteFile(path, []byte(base32.Encode(secret)+"\n"), 0o600); err != nil {
			return nil, errkind.E(op, errkind.Other, err)
		}
		return secret, nil
	}
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	secret, err := base32.Decode(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "%s: not a base32 secret", path)
	}
	return secret, nil
}

// uploader returns an immutable uploader for the grid.
func (w *writer) uploader(conv []byte) *upload.Uploader {
	return &upload.Uploader{Grid: w.cfg.Grid, Convergence: conv,
		Dial: func(s *grid.ServerInfo) (upload.Storage, error) { return w.clients.Client(s) },
		K:    w.enc.Needed, Happy: w.enc.Happy, N: w.enc.Total,
		LeaseSecret: w.pub.LeaseSecret, Timeout: w.pub.Timeout}
}

// putOptions are the flags of "tahoe-watch put".
type putOptions struct {
	writeOptions
	privateKey string
	mutable    bool
	args       []string
	in         io.Reader
	out        io.Writer
	errOut     io.Writer
	// requireHappy makes a version that landed recoverably but on fewer
	// than shares.happy servers an error (exit non-zero).
	requireHappy bool
}

func newPutCommand(s Streams) *cobra.Command {
	opts := &putOptions{in: s.In, out: s.Out, errOut: s.Err}
	cmd := &cobra.Command{
		Use:   "put [FILE|-] | put CAP [FILE|-] | put FILE|- DIRCAP/PATH",
		Short: "Create or replace a mutable file, or upload a file into a directory",
		Long: `put writes a file to the grid. It has three forms:

  put [FILE|-]            create a new mutable file from FILE (or stdin) and
                          print its write cap
  put CAP [FILE|-]        replace the contents of the mutable file CAP (a write
                          cap): the next version, same format and encoding,
                          written only where no other writer got in first
  put FILE|- DIRCAP/PATH  upload FILE as an immutable file (CHK, or a LIT cap
                          for 55 bytes or less) and link it at PATH below the
                          directory DIRCAP, creating missing directories;
                          --mutable links a new mutable file instead

Any size streams in bounded memory: a regular FILE is read in place, and
stdin (or a pipe) longer than 8 MiB is first spooled to a temporary file
under $TMPDIR, which needs room for it.

--private-key makes the new mutable file with a given RSA key (PEM, as
Tahoe's --private-key-path), so that its cap is known in advance.

Immutable uploads are convergent: the secret is the node's
private/convergence with --node-dir, else the file $` + EnvConvergence + `,
else <user config dir>/tahoe-watch/convergence, made on first use. Leases
are added under the node's private/secret with --node-dir, else under
<user config dir>/tahoe-watch/lease-secret, so they can be renewed later.

Only a newly created mutable file's write cap is ever printed; uploads
print the read cap of what was linked.

A mutable write counts as done, as in Tahoe, once the new version is in
place and readable (at least shares-needed distinct shares landed). If it
reached fewer than shares-happy servers, put says so on stderr, naming how
many shares and servers hold it, and still exits 0: running put again
would only make another version. --require-happy turns that case into an
error (exit 1) for scripts that need the full spread; the version stays
in place either way.`,
		Example: `  echo hello | tahoe-watch put --grid servers.yaml
  tahoe-watch put --format mdmf --private-key key.pem notes.txt
  tahoe-watch put URI:SSK:xxx:yyy notes.txt
  tahoe-watch put photo.jpg URI:DIR2:xxx:yyy/2024/photo.jpg
  tahoe-watch put -k 2 -N 4 --shares-happy 3 - URI:DIR2:xxx:yyy/log`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.args = args
			return putRun(cmd.Context(), opts)
		},
	}
	addWriteFlags(cmd, &opts.writeOptions, true)
	cmd.Flags().StringVar(&opts.privateKey, "private-key", "", "create the new mutable file with the RSA key in `FILE` (PEM)")
	cmd.Flags().BoolVar(&opts.mutable, "mutable", false, "with DIRCAP/PATH: link a new mutable file instead of an immutable one")
	cmd.Flags().BoolVar(&opts.requireHappy, "require-happy", false, "exit 1 when a mutable version landed (readable) but on fewer than shares-happy servers")
	return cmd
}

func isCap(arg string) bool { return strings.HasPrefix(arg, "URI:") }

// putRun dispatches on the form of the arguments.
func putRun(ctx context.Context, opts *putOptions) error {
	const op = "put"
	a := opts.args
	switch {
	case len(a) == 2 && isCap(a[0]) && !isCap(a[1]):
		return putUpdate(ctx, opts, a[0], a[1])
	case len(a) == 2 && isCap(a[1]):
		return putLink(ctx, opts, a[0], a[1])
	case len(a) == 2:
		return errkind.E(op, errkind.Usage, "two arguments: give CAP FILE or FILE DIRCAP/PATH")
	case len(a) == 1 && isCap(a[0]):
		if _, path, _ := cap.SplitPath(a[0]); len(path) > 0 {
			return putLink(ctx, opts, "-", a[0])
		}
		return putUpdate(ctx, opts, a[0], "-")
	case len(a) == 1:
		return putNew(ctx, opts, a[0])
	}
	return putNew(ctx, opts, "-")
}

// key is the --private-key key, or a new one.
func (o *putOptions) key() (*rsa.PrivateKey, error) {
	if o.privateKey == "" {
		return rsakey.Generate()
	}
	b, err := os.ReadFile(o.privateKey)
	if err != nil {
		return nil, errkind.E("put", errkind.Usage, err)
	}
	k, err := rsakey.ParsePEM(b)
	if err != nil {
		return nil, errkind.E("put", errkind.Usage, "--private-key %s: %w", o.privateKey, err)
	}
	return k, nil
}

func putNew(ctx context.Context, opts *putOptions, file string) error {
	if opts.mutable {
		return errkind.E("put", errkind.Usage, "--mutable needs a DIRCAP/PATH to link at")
	}
	return opts.withStream(ctx, file, func(w *writer, r io.Reader, size int64) (cap.Cap, error) {
		return opts.newMutableFrom(ctx, w, r, size)
	})
}

// withStream opens file (stdin for "-", see openInput) and the grid, runs
// do with both, and prints the cap do returns, if any: in full, as a new
// mutable file's write cap is printed on purpose.
func (o *putOptions) withStream(ctx context.Context, file string, do func(w *writer, r io.Reader, size int64) (cap.Cap, error)) error {
	in, err := openInput(file, o.in)
	if err != nil {
		return err
	}
	defer in.close()
	w, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	c, err := do(w, in.r, in.size)
	if err != nil || c == nil {
		return err
	}
	_, err = fmt.Fprintln(o.out, c.String())
	return err
}

// newMutableFrom creates a mutable file from size bytes of r.
func (o *putOptions) newMutableFrom(ctx context.Context, w *writer, r io.Reader, size int64) (cap.Cap, error) {
	priv, err := o.key()
	if err != nil {
		return nil, err
	}
	res, err := w.pub.CreateFrom(ctx, priv, r, size, w.params)
	if err = o.landed(err); err != nil {
		return nil, err
	}
	return res.Cap, nil
}

// landed applies the mutable publish rule to a publish error: a version
// that is in place and recoverable but short of shares.happy is reported
// on stderr and is not an error, unless --require-happy asked for more.
func (o *putOptions) landed(err error) error {
	var ue *publish.UnhappyError
	if !errors.As(err, &ue) || !ue.Result.Recoverable() || o.requireHappy {
		return err
	}
	if o.errOut != nil {
		fmt.Fprintf(o.errOut, "put: warning: %s; readers see the new version (--require-happy makes this an error)\n", ue.Error())
	}
	return nil
}

func putUpdate(ctx context.Context, opts *putOptions, capArg, file string) error {
	const op = "put"
	if opts.privateKey != "" || opts.mutable {
		return errkind.E(op, errkind.Usage, "--private-key and --mutable make new files; they do not apply to replacing %s", "CAP")
	}
	c, err := cap.Parse(capArg)
	if err != nil {
		return err
	}
	m, ok := c.(*cap.Mutable)
	if !ok || m.Dir {
		return errkind.E(op, errkind.Usage, "%s is not a mutable file: only mutable files can be replaced", cap.Abbrev(c))
	}
	if m.Access != cap.Write {
		return errkind.E(op, errkind.Usage, "%s is a read-only cap: replacing needs the write cap", cap.Abbrev(c))
	}
	return opts.withStream(ctx, file, func(w *writer, r io.Reader, size int64) (cap.Cap, error) {
		sm, err := w.pub.Map(ctx, m)
		if err != nil {
			return nil, err
		}
		_, err = w.pub.UpdateFrom(ctx, sm, r, size)
		return nil, opts.landed(err)
	})
}

func putLink(ctx context.Context, opts *putOptions, file, target string) error {
	const op = "put"
	if opts.privateKey != "" && !opts.mutable {
		return errkind.E(op, errkind.Usage, "--private-key applies to mutable files: add --mutable")
	}
	root, path, err := parseTarget(target)
	if err != nil {
		return err
	}
	if len(path) == 0 {
		return errkind.E(op, errkind.Usage, "%s names no entry: give DIRCAP/PATH", cap.Abbrev(root))
	}
	link := func(w *writer, child cap.Cap) (cap.Cap, error) {
		return child, w.ed.Link(ctx, root, path, dirop.ChildOf(child), true, true)
	}
	return opts.withStream(ctx, file, func(w *writer, r io.Reader, size int64) (cap.Cap, error) {
		child, err := opts.storeFrom(ctx, w, r, size)
		if err != nil {
			return nil, err
		}
		return link(w, child)
	})
}

// storeFrom stores size bytes of r as the file put links: a new mutable
// file with --mutable, else an immutable one (CHK or LIT).
func (o *putOptions) storeFrom(ctx context.Context, w *writer, r io.Reader, size int64) (cap.Cap, error) {
	if o.mutable {
		return o.newMutableFrom(ctx, w, r, size)
	}
	return o.uploadFrom(ctx, w, r, size)
}

// uploadFrom stores size bytes of r as an immutable file (CHK or LIT),
// segment by segment when r can be read at offsets (as every input of
// openInput can).
func (o *putOptions) uploadFrom(ctx context.Context, w *writer, r io.Reader, size int64) (cap.Cap, error) {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, errkind.E("put", errkind.Other, err)
		}
		ra, size = bytes.NewReader(data), int64(len(data))
	}
	conv, err := w.convergence(&o.writeOptions)
	if err != nil {
		return nil, err
	}
	var before os.FileInfo
	if f, ok := r.(*os.File); ok {
		before, _ = f.Stat()
	}
	res, err := w.uploader(conv).UploadFrom(ctx, ra, size)
	if err != nil {
		return nil, err
	}
	if before != nil {
		// The upload read the file twice; a change in between would
		// store bytes other than the ones the cap was derived from.
		if now, err := r.(*os.File).Stat(); err != nil || now.Size() != before.Size() || !now.ModTime().Equal(before.ModTime()) {
			return nil, errkind.E("put", errkind.Other, "%s changed while being uploaded; nothing was linked, run put again", before.Name())
		}
	}
	return res.Cap, nil
}
