// SPDX-License-Identifier: MIT

// mongo-standin is the MongoDB-compatible server that the integration tests
// and the one-command demo start, so that neither needs a real MongoDB. It
// embeds FerretDB v1.24.2 (Apache-2.0) with its SQLite backend: pure Go, no
// cgo, one SQLite file per database under -dir. It listens on loopback only;
// it is a test and demo tool, not a production database (production points
// chat-bridge at a real MongoDB).
//
// Contract with the scripts that start it: once the listening socket is
// bound, it prints exactly one line "mongo-standin: ready on HOST:PORT" to
// stdout (with the real port, so "-listen 127.0.0.1:0" lets the kernel pick
// a free one), logs only to stderr, exits 0 on SIGTERM or SIGINT after
// closing the database (a second signal exits at once), exits 2 on a bad
// flag and 1 on any start-up failure such as a port in use. FerretDB gives
// clients still connected at shutdown up to 3 s to leave.
//
// FerretDB 1.24.2 gaps that the bridge and the tests must allow for: send
// one index per createIndexes command (a command that lists several indexes
// of which two or more already exist panics in FerretDB and drops the
// connection); no transactions and no endSessions (libmongoc logs a warning
// when a client is destroyed); a unique index built over duplicate data
// fails with code 1, not 11000. Duplicate-key inserts, ordered and unordered
// batches, and sorted, limited finds behave as in MongoDB.
//
// Why this embeds the ferretdb package rather than `go install`ing
// FerretDB's own command: build/version panics at init when the main module
// is github.com/FerretDB/FerretDB and build/version/version.txt, a generated
// file that the published module lacks, is absent. It skips that check when
// the main module is anything else, as here, so no build tag or -ldflags is
// needed; buildInfo then reports version "unknown" and package "embedded".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// options holds the parsed command line.
type options struct {
	listen   string
	dir      string
	logLevel slog.Level
}

const (
	exitRuntime = 1
	exitUsage   = 2
)

// errReported marks an error whose message has already been printed.
var errReported = errors.New("already reported")

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if errors.Is(err, errReported) {
			os.Exit(exitUsage)
		}
		fmt.Fprintf(os.Stderr, "mongo-standin: %v\n", err)
		os.Exit(exitUsage)
	}
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "mongo-standin: %v\n", err)
		os.Exit(exitRuntime)
	}
}

// parseFlags reads and checks the command line; usage text goes to w.
func parseFlags(args []string, w io.Writer) (*options, error) {
	fs := flag.NewFlagSet("mongo-standin", flag.ContinueOnError)
	fs.SetOutput(w)
	listen := fs.String("listen", "", "loopback `address` to listen on, e.g. 127.0.0.1:27017 (port 0 picks a free one; required)")
	dir := fs.String("dir", "", "SQLite data `directory`, created if missing (required)")
	// Not "warn": FerretDB logs every failed command at warn as a
	// multi-line dump, including the endSessions that libmongoc sends at
	// every client destroy, and the tests provoke errors on purpose.
	level := fs.String("log-level", "error", "stderr log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: mongo-standin -listen 127.0.0.1:PORT -dir DIR [-log-level LEVEL]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errReported // the flag package has printed it
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	opts := &options{dir: *dir}
	var err error
	if opts.listen, err = loopbackAddr(*listen); err != nil {
		return nil, err
	}
	if opts.dir == "" {
		return nil, errors.New("-dir is required")
	}
	if err = opts.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", *level)
	}
	return opts, nil
}

// loopbackAddr checks that s is HOST:PORT with HOST a loopback IP literal
// (or "localhost", taken as 127.0.0.1) and returns it normalised. A name
// other than localhost is refused rather than resolved, so the stand-in can
// never end up reachable from the network by a DNS surprise.
func loopbackAddr(s string) (string, error) {
	if s == "" {
		return "", errors.New("-listen is required (e.g. -listen 127.0.0.1:27017)")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("-listen %q: %v", s, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("-listen %q: host must be a loopback address such as 127.0.0.1 or ::1", s)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return "", fmt.Errorf("-listen %q: bad port", s)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// sqliteURL creates dir if needed and returns the file: URI for FerretDB,
// which wants an existing directory and a path ending in "/".
func sqliteURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("-dir %q: %v", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("-dir: %v", err)
	}
	u := url.URL{Scheme: "file", Path: strings.TrimSuffix(abs, "/") + "/"}
	return u.String(), nil
}

// run starts FerretDB and serves until SIGTERM or SIGINT.
func run(opts *options) error {
	dbURL, err := sqliteURL(opts.dir)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: opts.logLevel}))

	// ferretdb.New binds the listening socket itself, so a port in use
	// shows up here; it flattens the error to text, hence the string test.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: opts.listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: dbURL,
	})
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("cannot listen on %s: address already in use", opts.listen)
		}
		return fmt.Errorf("cannot start FerretDB: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "mongo-standin: second signal, exiting without waiting")
		os.Exit(exitRuntime)
	}()

	done := make(chan struct{})
	go func() {
		_ = f.Run(ctx)
		close(done)
	}()

	// The socket is already bound and its backlog queues connections, and
	// Run's accept loop is now starting, so clients may connect from here.
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		cancel()
		<-done
		return fmt.Errorf("cannot read listening address: %v", err)
	}
	if _, err := fmt.Fprintf(os.Stdout, "mongo-standin: ready on %s\n", u.Host); err != nil {
		cancel()
		<-done
		return fmt.Errorf("cannot write ready line: %v", err)
	}
	_ = os.Stdout.Sync() // a no-op error on pipes; os.Stdout is unbuffered anyway

	<-done
	return nil
}
