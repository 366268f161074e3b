package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

var errHelp = errors.New("help")

// usageError is a mistake on the command line (an unknown flag, a bad value,
// a stray argument): run prints it on one line and exits with status 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// newFlags returns a flag set whose usage, printed for --help, lists each
// flag with its environment variable.
func newFlags(name, summary string, s stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags reports the errors
	fs.Usage = func() {
		fmt.Fprintf(s.out, "Usage: apistore %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(s.out, "  --%s\n      %s%s\n      env %s\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
	return fs
}

func envName(flagName string) string {
	return "APISTORE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags applies environment variables, then the command line, which
// wins. It prints the usage for --help only: a mistake is a usageError, one
// line, not the whole flag list.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		// An empty variable counts as unset, as a shell or a compose file
		// often leaves one.
		if v := os.Getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageError(fmt.Sprintf("%s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on every error
	err := fs.Parse(args)
	fs.Usage = help
	if errors.Is(err, flag.ErrHelp) {
		help()
		return errHelp
	} else if err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// storeFlags are the flags that say where the store is.
type storeFlags struct {
	dataDir  *string
	database *string
}

// addStoreFlags adds --data-dir and --database to fs.
func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		dataDir: fs.String("data-dir", "./data", "directory of the SQLite database, TLS certificate and session keys"),
		database: fs.String("database", "", "the database: empty for SQLite in the data directory, or a PostgreSQL URL "+
			"(postgres://user:password@host:5432/apistore) that every node of a cluster shares"),
	}
}

// userFlags are the flags of a command about one existing user: the
// store's, and --username.
type userFlags struct {
	store    storeFlags
	username *string
}

// addUserFlags adds --data-dir, --database and --username to fs.
func addUserFlags(fs *flag.FlagSet) userFlags {
	return userFlags{store: addStoreFlags(fs), username: fs.String("username", "", "the user's name (required)")}
}

// parse parses args into fs and returns the user's name as stored
// (admin@carbon.super is admin); a missing --username is a usageError.
func (f userFlags) parse(fs *flag.FlagSet, args []string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if *f.username == "" {
		return "", usageError("--username is required")
	}
	return portal.StoredUsername(*f.username), nil
}

// open opens (making the data directory and SQLite database if needed) and
// migrates the store.
func (f storeFlags) open(ctx context.Context) (db.Store, error) {
	return db.Open(ctx, *f.database, *f.dataDir)
}
