// Command apistore is a developer portal, OAuth 2.0 authorization server and
// API gateway in one binary. "apistore serve" (the default) runs it; the
// other subcommands administer the same database.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `apistore: developer portal, OAuth 2.0 server and API gateway.

Usage:
  apistore [serve] [flags]       run the server (the default)
  apistore user create [flags]   add a user (password from stdin or --password)
  apistore app create [flags]    add an application with production and sandbox keys
  apistore scope create [flags]  add or update a scope

Run "apistore COMMAND --help" for a command's flags. Every flag can also be
set by an environment variable, APISTORE_ and the flag's name in capitals
(--data-dir: APISTORE_DATA_DIR).
`

// stdio bundles a command's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := stdio{stdin, stdout, stderr}
	cmd, rest := "serve", args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
		if cmd != "serve" && cmd != "help" {
			if len(rest) == 0 || rest[0] != "create" {
				fmt.Fprintf(stderr, "apistore: unknown command %q\n\n%s", strings.Join(args[:min(2, len(args))], " "), usage)
				return 2
			}
			cmd, rest = cmd+" create", rest[1:]
		}
	}
	commands := map[string]func(context.Context, []string, stdio) error{
		"serve":        serve,
		"user create":  userCreate,
		"app create":   appCreate,
		"scope create": scopeCreate,
	}
	f, ok := commands[cmd]
	if !ok {
		if cmd == "help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "apistore: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := f(ctx, rest, s); err != nil {
		if err == errUsage {
			return 2
		}
		if err == errHelp {
			return 0
		}
		fmt.Fprintf(stderr, "apistore %s: %v\n", cmd, err)
		return 1
	}
	return 0
}
