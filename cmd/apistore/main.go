// Command apistore is a developer portal, OAuth 2.0 authorization server and
// API gateway in one binary. "apistore serve" (the default) runs it; the
// other subcommands administer the same database.
package main

import (
	"context"
	"errors"
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
  apistore app tls [flags]       set how an application's keys authenticate (TLS certificate or secret)
  apistore scope create [flags]  add a scope to a tenant, or change the flags given of one
  apistore scope list [--tenant] list a tenant's scopes
  apistore tier set [flags]      add a throttling tier to a tenant, or set a tier's limit for it
  apistore tier list [--tenant]  list a tenant's tiers and their limits
  apistore tier delete [flags]   remove a tenant's tier, or its own limit of a default tier
  apistore user delete [flags]   remove a user, their applications and tokens
  apistore user reset-password   print a link that sets a new password for a user
  apistore user list             list the users, with their status
  apistore user disable|enable   stop a user (sessions, tokens, applications) or let them back
  apistore user unlock           end the lockout of a username or an address
  apistore mail test --to ADDR   send a test message through the --smtp-… settings
  apistore api import FILE       publish an API from an OpenAPI 3 document
  apistore keys rotate           make a new JWT signing key; the old ones stay published until their tokens expire
  apistore backup FILE           copy the database consistently, also while serving
  apistore userstore add [flags] add a read-only LDAP user store (bind password from stdin)
  apistore userstore list        list the LDAP user stores
  apistore tenant create [flags] add a tenant and its administrator (password from stdin)
  apistore tenant list           list the tenants
  apistore tenant deactivate|activate  stop a tenant (log-ins, keys, tokens) or let it back

Run "apistore COMMAND --help" for a command's flags. Every flag can also be
set by an environment variable, APISTORE_ and the flag's name in capitals
(--data-dir: APISTORE_DATA_DIR); an empty variable counts as unset.
`

// stdio bundles a command's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// commands maps "verb" or "noun verb" to its implementation.
var commands = map[string]func(context.Context, []string, stdio) error{
	"serve":               serve,
	"user create":         userCreate,
	"app create":          appCreate,
	"app tls":             appTLS,
	"scope create":        scopeCreate,
	"scope list":          scopeList,
	"tier set":            tierSet,
	"tier list":           tierList,
	"tier delete":         tierDelete,
	"user delete":         userDelete,
	"user reset-password": userResetPassword,
	"user list":           userList,
	"user disable":        userDisable,
	"user enable":         userEnable,
	"user unlock":         userUnlock,
	"mail test":           mailTest,
	"api import":          apiImport,
	"keys rotate":         keysRotate,
	"backup":              backup,
	"userstore add":       userstoreAdd,
	"userstore list":      userstoreList,
	"tenant create":       tenantCreate,
	"tenant list":         tenantList,
	"tenant deactivate":   tenantDeactivate,
	"tenant activate":     tenantActivate,
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
		// "noun verb", unless the command is one word taking an argument
		// ("backup FILE").
		if _, oneWord := commands[name]; !oneWord && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			name, rest = name+" "+rest[0], rest[1:]
		}
	}
	// "apistore --help" shows the commands; "apistore serve --help" serve's flags.
	if name == "help" || (len(args) > 0 && isHelpFlag(args[0])) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	f, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "apistore: unknown command %q\n\n%s", name, usage)
		return 2
	}
	err := f(ctx, rest, stdio{stdin, stdout, stderr})
	var ue usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "apistore %s: %v (see apistore %s --help)\n", name, err, name)
		return 2
	default:
		fmt.Fprintf(stderr, "apistore %s: %v\n", name, err)
		return 1
	}
}

// isHelpFlag reports whether arg asks for help, as the flag package reads it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}
