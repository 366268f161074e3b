package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// defaultStoreURL is where the store is when serve runs with its defaults.
const defaultStoreURL = "https://localhost:9443"

// userResetPassword makes a password reset link for a user and prints it, for
// an administrator to hand over when the store sends no email (or the
// account has no address).
func userResetPassword(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user reset-password", "Prints a link that sets a new password for a user, once, within --validity.", s)
	flags := addUserFlags(fs)
	validity := fs.Duration("validity", 24*time.Hour, "how long the link works (1m to 168h)")
	var base string
	fs.Func("store-public-url", "base URL clients reach the store at, as serve's flag (default "+defaultStoreURL+")",
		func(v string) (err error) { base, err = parsePublicURL(v, true); return err })
	username, err := flags.parse(fs, args)
	if err != nil {
		return err
	}
	if *validity < time.Minute || *validity > 7*24*time.Hour {
		return usageError(fmt.Sprintf("--validity %v: give 1m to 168h", *validity))
	}
	d, err := flags.store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := d.UserAccount(ctx, username)
	if errors.Is(err, portal.ErrNotFound) {
		return fmt.Errorf("no user %q", username)
	} else if err != nil {
		return err
	}
	token, now := oauth.NewSecret(), time.Now()
	if err := d.CreatePasswordReset(ctx, oauth.HashOf(token), u.ID, now, now.Add(*validity)); err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditResetLinkMade, u.Username, "", fmt.Sprintf("apistore user reset-password, valid %v", *validity))
	if base == "" {
		base = defaultStoreURL
		fmt.Fprintf(s.err, "apistore: the link names %s; give --store-public-url (or APISTORE_STORE_PUBLIC_URL) when users reach the store elsewhere\n", base)
	}
	fmt.Fprintln(s.out, handlers.ResetLink(base, token))
	fmt.Fprintf(s.err, "apistore: it sets a new password for %s once, until %s; using it logs out every session of the account\n",
		u.Username, now.Add(*validity).UTC().Format("2006-01-02 15:04 UTC"))
	return nil
}

// userList prints the accounts, with their status.
func userList(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user list", "Lists the users whose username or email holds --filter (all without it), by username: of every tenant, or of --tenant.", s)
	store := addStoreFlags(fs)
	filter := fs.String("filter", "", "part of a username or email address, any case")
	tenant := fs.String("tenant", "", "only this tenant's users, by its domain (carbon.super: the super tenant's)")
	limit := fs.Int("limit", 1000, "list at most this many")
	asJSON := fs.Bool("json", false, "print JSON, one object per user, instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 1 {
		return usageError("--limit must be positive")
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	var tenantID int64
	if *tenant != "" {
		t, err := d.TenantByDomain(ctx, *tenant)
		if errors.Is(err, portal.ErrNotFound) {
			return fmt.Errorf("no tenant %q (apistore tenant list shows them)", *tenant)
		} else if err != nil {
			return err
		}
		tenantID = t.ID
	}
	users, err := d.ListUsers(ctx, tenantID, *filter, *limit)
	if err != nil {
		return err
	}
	now := time.Now()
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = handlers.UnlockKeys(u.Username, "")[0]
	}
	counts, err := d.LoginCounts(ctx, keys, now)
	if err != nil {
		return err
	}
	type row struct {
		Username    string     `json:"username"`
		Email       string     `json:"email"`
		Roles       []string   `json:"roles"`
		CreatedAt   time.Time  `json:"created_at"`
		DisabledAt  *time.Time `json:"disabled_at,omitempty"`
		LockedUntil *time.Time `json:"locked_until,omitempty"`
		// FailedLogins is why: the failed log-ins that locked the account.
		FailedLogins int `json:"failed_logins,omitempty"`
	}
	rows := make([]row, len(users))
	for i, u := range users {
		r := row{Username: u.Username, Email: u.Email, Roles: u.Roles, CreatedAt: u.CreatedAt.UTC()}
		if r.Roles == nil {
			r.Roles = []string{}
		}
		if u.Disabled {
			at := u.DisabledAt.UTC()
			r.DisabledAt = &at
		}
		if i < len(counts) {
			if wait := handlers.LockedFor(counts[i:i+1], now); wait > 0 {
				until := now.Add(wait).UTC()
				r.LockedUntil, r.FailedLogins = &until, counts[i].Failures
			}
		}
		rows[i] = r
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "USERNAME\tEMAIL\tROLES\tCREATED\tSTATUS")
	for _, r := range rows {
		status := "active"
		if r.DisabledAt != nil {
			status = "disabled since " + r.DisabledAt.Format("2006-01-02 15:04 UTC")
		}
		if r.LockedUntil != nil {
			status += fmt.Sprintf(", locked out until %s after %d failed log-ins", r.LockedUntil.Format("15:04 UTC"), r.FailedLogins)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Username, orDash(r.Email), orDash(strings.Join(r.Roles, ",")),
			r.CreatedAt.Format("2006-01-02"), status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(users) == *limit {
		fmt.Fprintf(s.err, "apistore: the first %d users; --filter or --limit for others\n", *limit)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// userDisable disables an account: logged out everywhere, no log-in, no
// token, and every token issued for the user or to their applications is
// refused at once by every node.
func userDisable(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user disable", "Disables a user: their sessions and tokens, and those of their applications, end at once; they cannot log in nor get tokens until enabled.", s)
	flags := addUserFlags(fs)
	username, err := flags.parse(fs, args)
	if err != nil {
		return err
	}
	d, err := flags.store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if u, err := d.UserAccount(ctx, username); err == nil && u.Disabled {
		fmt.Fprintf(s.out, "user %s was disabled already, since %s\n", u.Username, u.DisabledAt.UTC().Format("2006-01-02 15:04 UTC"))
		return nil
	}
	u, ended, err := d.DisableUser(ctx, username, time.Now())
	if errors.Is(err, portal.ErrNotFound) {
		return fmt.Errorf("no user %q", username)
	} else if err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditUserDisabled, u.Username, "", fmt.Sprintf("apistore user disable: %d sessions logged out, %d tokens revoked",
		ended.Sessions, ended.Tokens))
	fmt.Fprintf(s.out, "disabled user %s: %d sessions logged out, %d tokens revoked\n", u.Username, ended.Sessions, ended.Tokens)
	if n, err := d.CountUsersWithRole(ctx, portal.TenantIDOf(u.TenantID), "admin"); err == nil && n == 0 {
		of := ""
		if portal.TenantIDOf(u.TenantID) != portal.SuperTenantID {
			of = " in " + u.Tenant
		}
		fmt.Fprintf(s.err, "apistore: warning: no enabled user has the admin role now%s; apistore user enable --username %s undoes it\n", of, u.Username)
	}
	return nil
}

// userEnable enables a disabled account.
func userEnable(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user enable", "Enables a disabled user: they may log in and get tokens again (tokens ended by disabling stay ended).", s)
	flags := addUserFlags(fs)
	username, err := flags.parse(fs, args)
	if err != nil {
		return err
	}
	d, err := flags.store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := d.EnableUser(ctx, username)
	if errors.Is(err, portal.ErrNotFound) {
		return fmt.Errorf("no user %q", username)
	} else if err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditUserEnabled, u.Username, "", "apistore user enable")
	fmt.Fprintf(s.out, "enabled user %s\n", u.Username)
	return nil
}

// userUnlock forgets the failed log-ins of a username or an address, which
// ends their lockout on every node.
func userUnlock(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user unlock", "Ends the lockout of a username (failed log-ins, reset links mailed) or of an address (failed log-ins, sign-ups, reset requests).", s)
	store := addStoreFlags(fs)
	username := fs.String("username", "", "a username (any case)")
	address := fs.String("address", "", "a client address, as the audit trail shows it (an IPv6 address counts with its /64)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*username == "") == (*address == "") {
		return usageError("give --username or --address")
	}
	if *address != "" {
		a, err := netip.ParseAddr(*address)
		if err != nil {
			return usageError(fmt.Sprintf("--address %q is not an IP address", *address))
		}
		*address = a.Unmap().String()
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	name := *username
	if name != "" {
		if u, err := d.UserAccount(ctx, name); err == nil {
			name = u.Username
		} else if !errors.Is(err, portal.ErrNotFound) {
			return err
		}
	}
	keys := handlers.UnlockKeys(name, *address)
	counts, err := d.LoginCounts(ctx, keys, time.Now())
	if err != nil {
		return err
	}
	var cleared []string
	for _, c := range counts {
		if c.Failures == 0 {
			continue
		}
		if err := d.ClearLoginFailures(ctx, c.Key); err != nil {
			return err
		}
		cleared = append(cleared, fmt.Sprintf("%s (%d)", counterName(c.Key), c.Failures))
	}
	who := "username " + name
	if *address != "" {
		who = "address " + *address
	}
	if len(cleared) == 0 {
		fmt.Fprintf(s.out, "%s has no failures to forget\n", who)
		return nil
	}
	auditUser := ""
	if name != "" {
		auditUser = name
	}
	auditCommand(ctx, d, s, portal.AuditLockoutCleared, auditUser, "", "apistore user unlock: "+who+": "+strings.Join(cleared, ", "))
	fmt.Fprintf(s.out, "unlocked %s: forgot %s\n", who, strings.Join(cleared, ", "))
	return nil
}

// counterName says what a counter counts.
func counterName(key string) string {
	switch key[:2] {
	case "u:", "a:":
		return "failed log-ins"
	case "m:":
		return "reset links mailed"
	case "s:":
		return "sign-ups"
	case "r:":
		return "reset requests"
	}
	return "failures"
}
