package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// newPasswordHash checks a new password, given (pw) or else the first line
// of standard input (missing: the error when there is none), and hashes it.
func newPasswordHash(s stdio, pw, missing string) (string, error) {
	if pw == "" {
		line, err := bufio.NewReader(s.in).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New(missing)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if err := oauth.CheckPasswordStrength(pw); err != nil {
		return "", err
	}
	return oauth.HashPassword(pw)
}

// userCreate adds a user; the password comes from --password or the first
// line of standard input.
func userCreate(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user create", "Adds a user. The password is read from standard input unless --password is given.", s)
	store := addStoreFlags(fs)
	username := fs.String("username", "", "the user's name (required; case-insensitive unique)")
	password := fs.String("password", "", "the password (default: read a line from standard input)")
	roles := fs.String("role", "subscriber", "comma-separated roles, e.g. subscriber,admin")
	email := fs.String("email", "", "e-mail address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := oauth.CheckUsername(*username); err != nil {
		return err
	}
	hash, err := newPasswordHash(s, *password, "no password: give --password or write it to standard input")
	if err != nil {
		return err
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u := &portal.User{User: oauth.User{Username: *username, PasswordHash: hash, Roles: splitList(*roles)}, Email: *email}
	if err := d.CreateUser(ctx, u); err != nil {
		if errors.Is(err, portal.ErrConflict) {
			return fmt.Errorf("user %q already exists", *username)
		}
		return err
	}
	auditCommand(ctx, d, s, portal.AuditUserCreated, u.Username, "", "apistore user create, roles "+strings.Join(u.Roles, ","))
	fmt.Fprintf(s.out, "created user %s (roles: %s)\n", u.Username, strings.Join(u.Roles, ", "))
	return nil
}

// appCreate adds an application with a production and a sandbox key and
// prints the keys and secrets, which are not stored in clear and cannot be
// shown again.
func appCreate(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("app create", "Adds an application with production and sandbox keys and prints them as JSON.", s)
	store := addStoreFlags(fs)
	owner := fs.String("owner", "", "username of the owner (required)")
	name := fs.String("name", "", "application name (required; unique per owner)")
	description := fs.String("description", "", "description")
	callback := fs.String("callback-url", "", "callback (redirect) URL: absolute https, or http on a loopback host")
	grants := fs.String("grant-types", strings.Join(oauth.DefaultGrantTypes, ","), "comma-separated allowed grant types: "+strings.Join(oauth.AllGrantTypes, ", "))
	tier := fs.String("tier", "Unlimited", "the application's tier: one of its owner's tenant's, "+strings.Join(portal.Tiers, ", ")+" or one apistore tier set added")
	jwtTokens := fs.Bool("jwt-access-tokens", false, "issue the application JWT access tokens (RFC 9068, signed ES256, verifiable with the keys at the JWKS URL) rather than opaque ones")
	dpop := fs.Bool("dpop-required", false, "issue the application's tokens only with a DPoP proof (RFC 9449): DPoP-bound tokens only")
	tlsFlags := addTLSAuthFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tlsAuth, err := tlsFlags()
	if err != nil {
		return err
	}
	if *owner == "" || strings.TrimSpace(*name) == "" {
		return errors.New("--owner and --name are required")
	}
	grantTypes := splitList(*grants)
	if err := oauth.CheckGrantTypes(grantTypes); err != nil {
		return err
	}
	if *callback != "" {
		if err := oauth.CheckRedirectURI(*callback); err != nil {
			return fmt.Errorf("--callback-url: %w", err)
		}
	}
	d, u, err := store.openForUser(ctx, *owner)
	if err != nil {
		return err
	}
	defer d.Close()
	custom, err := d.Tiers(ctx, u.TenantID)
	if err != nil {
		return err
	}
	if tiers := portal.TierNames(portal.TenantTiers(custom)); !slices.Contains(tiers, *tier) {
		return fmt.Errorf("--tier must be one of %s, not %q", strings.Join(tiers, ", "), *tier)
	}
	app := &portal.Application{OwnerID: u.ID, Name: strings.TrimSpace(*name), Description: *description, CallbackURL: *callback, Tier: *tier,
		JWTAccessTokens: *jwtTokens, DPoPRequired: *dpop}
	out := map[string]any{"name": app.Name}
	if app.DPoPRequired {
		out["dpop_required"] = true
	}
	if tlsAuth.Method != "" {
		out["token_endpoint_auth_method"] = tlsAuth.Method
	}
	err = d.CreateApplicationWithKeys(ctx, app, func(kt oauth.KeyType) *oauth.Client {
		key, secret := oauth.NewConsumerKey(), oauth.NewSecret()
		out[strings.ToLower(string(kt))] = map[string]string{"consumer_key": key, "consumer_secret": secret}
		return &oauth.Client{ConsumerKey: key, SecretHash: oauth.HashOf(secret), KeyType: kt,
			GrantTypes: grantTypes, CallbackURL: *callback}
	})
	if errors.Is(err, portal.ErrConflict) {
		return fmt.Errorf("%s already has an application named %q", u.Username, app.Name)
	} else if err != nil {
		return err
	}
	if tlsAuth.Method != "" {
		// Before anything is printed: until then no one knows the secrets
		// that would authenticate the keys meanwhile.
		if err := d.SetApplicationTLSAuth(ctx, app.ID, tlsAuth); err != nil {
			return err
		}
	}
	var ids []string
	for _, kt := range []string{"production", "sandbox"} {
		if k, ok := out[kt].(map[string]string); ok {
			ids = append(ids, k["consumer_key"])
		}
	}
	auditCommand(ctx, d, s, portal.AuditApplicationCreated, u.Username, strings.Join(ids, " "), "apistore app create, application "+app.Name)
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// scopeCreate adds a scope to a tenant or updates its description and roles.
func scopeCreate(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("scope create", "Adds a scope to a tenant, or changes an existing one: only the flags given (empty or not) change it.", s)
	f := addTenantFlags(fs, "the tenant whose scope it is: only its applications' tokens can have it")
	name := fs.String("name", "", "scope name (required)")
	description := fs.String("description", "", "what the scope allows, shown on the consent page")
	roles := fs.String("roles", "", "comma-separated roles of the tenant's users that may be granted the scope (empty: any user of the tenant)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := oauth.CheckScopeName(*name); err != nil {
		return err
	}
	d, t, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	sc := oauth.Scope{Name: *name}
	existing, err := d.ScopesByName(ctx, t.Domain, []string{*name})
	if err != nil {
		return err
	}
	if len(existing) == 1 {
		sc = existing[0]
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "description":
			sc.Description = *description
		case "roles":
			sc.Roles = splitList(*roles)
		}
	})
	if err := d.PutScope(ctx, t.Domain, sc); err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditScopeChanged, "", "", fmt.Sprintf("apistore scope create, tenant %s, scope %s, roles %q", t.Domain, sc.Name, strings.Join(sc.Roles, ",")))
	if t.ID == portal.SuperTenantID {
		fmt.Fprintf(s.out, "scope %s saved\n", sc.Name)
	} else {
		fmt.Fprintf(s.out, "scope %s of %s saved\n", sc.Name, t.Domain)
	}
	return nil
}

// scopeList prints a tenant's scopes.
func scopeList(ctx context.Context, args []string, s stdio) error {
	return tenantListCommand(ctx, args, s, "scope list", "Lists a tenant's scopes, with who may be granted them.", "the tenant whose scopes to list",
		func(ctx context.Context, d db.Store, t *portal.Tenant) ([]oauth.Scope, error) {
			return d.Scopes(ctx, t.Domain)
		},
		"NAME\tROLES\tDESCRIPTION",
		func(sc oauth.Scope) string {
			roles := strings.Join(sc.Roles, ",")
			if roles == "" {
				roles = "(anyone)"
			}
			return sc.Name + "\t" + roles + "\t" + sc.Description
		})
}

// tenantDomain is the domain of the tenant a --tenant flag names, as
// stored; an unknown one is a one-line error.
func tenantDomain(ctx context.Context, d db.Store, domain string) (string, error) {
	t, err := lookupTenant(ctx, d, domain)
	if err != nil {
		return "", err
	}
	return t.Domain, nil
}

// lookupTenant is the tenant a --tenant flag names; an unknown one is a
// one-line error.
func lookupTenant(ctx context.Context, d db.Store, domain string) (*portal.Tenant, error) {
	t, err := d.TenantByDomain(ctx, domain)
	if errors.Is(err, portal.ErrNotFound) {
		return nil, fmt.Errorf("no tenant %q (see apistore tenant list)", domain)
	}
	return t, err
}

// auditCommand records an administrative command in the audit trail, as
// the store records what its users do, in the trail of the tenant of the
// user or key it names (else the super tenant's); the address column says
// it came from the command line. The command has done its work already, so a
// failure to record is a warning, not the command's error.
func auditCommand(ctx context.Context, d db.Store, s stdio, event, username, client, detail string) {
	e := &portal.AuditEvent{At: time.Now(), Event: event, Username: username, Client: client, Remote: "command line", Detail: detail}
	// The store finds the tenant of a user or key that exists; a user
	// deleted meanwhile is their name's tenant's.
	if _, domain := portal.SplitTenant(username); domain != "" {
		if t, err := d.TenantByDomain(ctx, domain); err == nil {
			e.TenantID = t.ID
		}
	}
	if err := d.RecordAudit(ctx, e); err != nil {
		fmt.Fprintf(s.err, "apistore: warning: %v\n", err)
	}
}

// openForUser opens the store and finds a user in it, for a command that
// works on the user's things: "no user" when there is none. The store is
// closed again unless all went well.
func (f storeFlags) openForUser(ctx context.Context, username string) (db.Store, *portal.User, error) {
	d, err := f.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	u, err := d.UserAccount(ctx, username)
	if errors.Is(err, portal.ErrNotFound) {
		err = fmt.Errorf("no user %q", username)
	}
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, u, nil
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
