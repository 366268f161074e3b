package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apistore/apistore/db"
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

// dataDirFlag adds --data-dir to fs.
func dataDirFlag(fs *flag.FlagSet) *string {
	return fs.String("data-dir", "./data", "directory of the database, TLS certificate and session keys")
}

// openDB opens (creating them if needed) the data directory and its database.
func openDB(dataDir string) (*db.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dataDir, "apistore.db")
	d, err := db.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}
