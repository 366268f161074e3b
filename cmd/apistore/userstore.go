package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/userstore"
)

// domainPattern is what a user store's domain may be: WSO2's domain names
// are letters, digits, . _ and -, and a slash would split DOMAIN/name.
var domainPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// userstoreAdd adds a read-only secondary LDAP user store; the bind
// password is the first line of standard input.
func userstoreAdd(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("userstore add", "Adds a read-only LDAP user store whose users log in as DOMAIN/name. "+
		"The bind password is read from standard input. A running server uses it after its next sync (--userstore-sync).", s)
	store := addStoreFlags(fs)
	var us portal.UserStore
	fs.StringVar(&us.Tenant, "tenant", portal.SuperTenant, "the tenant whose users the store holds: in another tenant than carbon.super they log in as DOMAIN/name@TENANT")
	fs.StringVar(&us.Domain, "domain", "", "the store's domain name, e.g. CORP: its users log in as CORP/name (required)")
	fs.StringVar(&us.URL, "url", "", "the LDAP server, ldap://host:389 or ldaps://host:636 (required)")
	fs.StringVar(&us.BindDN, "bind-dn", "", "the DN the server searches as, e.g. cn=apistore,dc=example,dc=org (required)")
	fs.StringVar(&us.UserSearchBase, "user-search-base", "", "where users are, e.g. ou=people,dc=example,dc=org (required)")
	fs.StringVar(&us.UserFilter, "user-filter", "(objectClass=person)", "the entries that may log in; one it no longer matches is refused and disabled")
	fs.StringVar(&us.UserAttribute, "user-attribute", "uid", "the attribute that holds the login name")
	fs.StringVar(&us.GroupSearchBase, "group-search-base", "", "where groups are (groupOfNames, groupOfUniqueNames, posixGroup); empty: no roles from groups")
	roleMap := fs.String("role-map", "", "LDAP groups to apistore roles, group=role pairs separated by commas, e.g. developers=subscriber,apiadmins=admin; other groups give no role")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !domainPattern.MatchString(us.Domain) {
		return usageError("--domain: 1 to 32 letters, digits or . _ - (no slash)")
	}
	if !strings.HasPrefix(us.URL, "ldap://") && !strings.HasPrefix(us.URL, "ldaps://") {
		return usageError("--url: give ldap://host:port or ldaps://host:port")
	}
	if us.BindDN == "" || us.UserSearchBase == "" {
		return usageError("--bind-dn and --user-search-base are required")
	}
	if !strings.HasPrefix(us.UserFilter, "(") || !strings.HasSuffix(us.UserFilter, ")") {
		return usageError("--user-filter: an LDAP filter in parentheses")
	}
	us.RoleMap = portal.ParseRoleMap(*roleMap)
	line, err := bufio.NewReader(s.in).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("no bind password: write it to standard input")
	}
	us.BindPassword = strings.TrimRight(line, "\r\n")
	if us.BindPassword == "" {
		return errors.New("no bind password: write it to standard input")
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if us.Tenant, err = tenantDomain(ctx, d, us.Tenant); err != nil {
		return err
	}
	if err := d.CreateUserStore(ctx, &us); err != nil {
		if errors.Is(err, portal.ErrConflict) {
			return fmt.Errorf("user store %q already exists", us.Domain)
		}
		return err
	}
	auditCommand(ctx, d, s, portal.AuditUserStoreAdded, "", "", fmt.Sprintf("apistore userstore add: %s at %s", us.Domain, us.URL))
	fmt.Fprintf(s.out, "user store %s added: its users log in as %s\n", us.Domain, portal.TenantUsername(us.Domain+"/name", us.Tenant))
	return nil
}

// userstoreList lists the secondary user stores, without their bind
// passwords.
func userstoreList(ctx context.Context, args []string, s stdio) error {
	return listCommand(ctx, args, s, "userstore list", "Lists the LDAP user stores (never their bind passwords).",
		func(ctx context.Context, d db.Store) ([]portal.UserStore, error) { return d.UserStores(ctx) },
		"TENANT\tDOMAIN\tURL\tBIND DN\tUSER SEARCH BASE\tGROUP SEARCH BASE\tROLE MAP\tADDED",
		func(us portal.UserStore) string {
			return strings.Join([]string{us.Tenant, us.Domain, us.URL, us.BindDN, us.UserSearchBase, us.GroupSearchBase,
				portal.JoinRoleMap(us.RoleMap), us.CreatedAt.UTC().Format(time.DateOnly)}, "\t")
		})
}

// listCommand is a command that opens the store and prints what load
// returns as a table: header, then row's line for each (tab-separated).
func listCommand[T any](ctx context.Context, args []string, s stdio, name, help string,
	load func(context.Context, db.Store) ([]T, error), header string, row func(T) string) error {
	fs := newFlags(name, help, s)
	store := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := load(ctx, d)
	if err != nil {
		return err
	}
	return writeTable(s.out, header, list, row)
}

// writeTable prints a list as a table: the header, then a row a line,
// tab-separated cells aligned.
func writeTable[T any](out io.Writer, header string, list []T, row func(T) string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, v := range list {
		fmt.Fprintln(w, row(v))
	}
	return w.Flush()
}

// startDirectory loads the user stores and keeps them in sync every
// interval until ctx ends.
func startDirectory(ctx context.Context, d userstore.Store, interval, timeout time.Duration) (*userstore.Directory, error) {
	dir, err := userstore.New(ctx, d, timeout)
	if err != nil {
		return nil, err
	}
	go dir.Run(ctx, interval)
	return dir, nil
}
