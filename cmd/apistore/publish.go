package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
)

// apiImport publishes an API described by an OpenAPI 3 document, with the
// scopes its resources name, all or nothing.
func apiImport(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("api import", "Publishes an API from an OpenAPI 3 document (YAML or JSON): apistore api import FILE [flags].", s)
	store := addStoreFlags(fs)
	file := fs.String("file", "", "the OpenAPI document (or give it as the first argument)")
	apiContext := fs.String("context", "", "the API's context, e.g. /pizzashack (default: the x-context extension, else from the title)")
	update := fs.Bool("update", false, "replace the API of the same context and version (its fields, tiers and resources), keeping its status and subscriptions")
	passOverride := fs.Bool("pass-method-override", false, "pass X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override and _method on to the API's backend, "+
		"checking each call as both its own method and the one it names; otherwise such a call is refused (with --update: the API keeps its setting unless this is given)")
	backendJWT := fs.Bool("backend-jwt", false, "send the API's backend a signed JWT about each caller in X-JWT-Assertion (subscriber, application, key type, tier, "+
		"end user, roles), verifiable with the keys at the JWKS URL (with --update: the API keeps its setting unless this is given)")
	tenantDomain := fs.String("tenant", portal.SuperTenant, "the tenant that publishes the API: in another tenant than carbon.super its context is under /t/TENANT/ (given without it) and only the tenant's developers see it")
	if err := parseFileFlags(fs, file, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("give the OpenAPI document: apistore api import FILE")
	}
	passGiven, jwtGiven := false, false
	fs.Visit(func(f *flag.Flag) {
		passGiven = passGiven || f.Name == "pass-method-override"
		jwtGiven = jwtGiven || f.Name == "backend-jwt"
	})
	f, err := os.Open(*file)
	if err != nil {
		return fmt.Errorf("read %s: %w", *file, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, gateway.MaxOpenAPIBytes+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", *file, err)
	}
	a, scopes, err := gateway.FromOpenAPI(ctx, data, *apiContext)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := importTenant(ctx, d, *tenantDomain, a); err != nil {
		return err
	}
	if err := offeredTiers(ctx, d, a); err != nil {
		return err
	}
	done := "published"
	a.PassMethodOverride, a.BackendJWT = *passOverride, *backendJWT
	if *update {
		old, err := d.APIByContext(ctx, a.Context, a.Version)
		if err != nil {
			if errors.Is(err, portal.ErrNotFound) {
				return fmt.Errorf("--update: there is no API with context %s and version %s to update", a.Context, a.Version)
			}
			return err
		}
		a.ID, a.Status, a.CORS, a.Shared, done = old.ID, old.Status, old.CORS, old.Shared, "updated"
		if !passGiven {
			a.PassMethodOverride = old.PassMethodOverride
		}
		if !jwtGiven {
			a.BackendJWT = old.BackendJWT
		}
		if len(a.Tiers) == 0 {
			a.Tiers = portal.Tiers
		}
		if len(a.Tags) == 0 { // the Publisher's tags stay when the document has none
			a.Tags = old.Tags
		}
	}
	var overlap *portal.OverlapError
	if *update {
		err = d.UpdateAPI(ctx, a, scopes)
	} else {
		err = d.ImportAPI(ctx, a, scopes)
	}
	if errors.Is(err, portal.ErrConflict) {
		return fmt.Errorf("an API with context %s and version %s already exists (--update replaces it)", a.Context, a.Version)
	} else if errors.As(err, &overlap) {
		return fmt.Errorf("context %s: %w (--context sets it)", a.Context, err)
	} else if err != nil {
		return err
	}
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = sc.Name
	}
	auditCommand(ctx, d, s, portal.AuditAPIChanged, "", "", fmt.Sprintf("apistore api import: API %s %s (%s) %s: production %s, sandbox %s",
		a.Name, a.Version, a.Context, done, a.ProductionURL, a.SandboxURL))
	fmt.Fprintf(s.out, "%s %s %s at %s/%s: %d resources, scopes: %s\n", done, a.Name, a.Version, a.Context, a.Version,
		len(a.Resources), strings.Join(names, ", "))
	return nil
}

// importTenant makes a the API of the tenant domain names, its context
// under /t/{domain}/ (as the Publisher puts a tenant's), or an error for a
// tenant that is unknown or deactivated, or a context that /t/ keeps for
// another tenant.
func importTenant(ctx context.Context, d interface {
	TenantByDomain(ctx context.Context, domain string) (*portal.Tenant, error)
}, domain string, a *portal.API) error {
	t, err := d.TenantByDomain(ctx, domain)
	switch {
	case errors.Is(err, portal.ErrNotFound):
		return fmt.Errorf("--tenant: no tenant %q (apistore tenant list shows them)", domain)
	case err != nil:
		return err
	case !t.Active:
		return fmt.Errorf("--tenant: the tenant %s is deactivated (apistore tenant activate --domain %s lets it back)", t.Domain, t.Domain)
	}
	a.TenantID = t.ID
	if t.ID == portal.SuperTenantID {
		if strings.HasPrefix(a.Context, "/t/") {
			return fmt.Errorf("context %s: contexts beginning with /t/ are kept for tenants' APIs (--tenant names the tenant)", a.Context)
		}
		return nil
	}
	if prefix := "/t/" + t.Domain + "/"; !strings.HasPrefix(a.Context, prefix) {
		if strings.HasPrefix(a.Context, "/t/") {
			return fmt.Errorf("context %s: give it without /t/ (the API goes under /t/%s/)", a.Context, t.Domain)
		}
		a.Context = portal.TenantContext(t.Domain, a.Context)
	}
	return nil
}

// offeredTiers refuses an API offering tiers its tenant does not have:
// the default ones and those set with apistore tier set.
func offeredTiers(ctx context.Context, d interface {
	Tiers(ctx context.Context, tenantID int64) ([]portal.Tier, error)
}, a *portal.API) error {
	custom, err := d.Tiers(ctx, portal.TenantIDOf(a.TenantID))
	if err != nil {
		return err
	}
	names := portal.TierNames(portal.TenantTiers(custom))
	for _, t := range a.Tiers {
		if !slices.Contains(names, t) {
			return fmt.Errorf("x-tiers: the tenant has no tier %q (its tiers: %s; apistore tier set adds one)", t, strings.Join(names, ", "))
		}
	}
	return nil
}

// parseFileFlags parses the flags of a command taking FILE, as an argument
// or as --file. FILE on the command line wins over APISTORE_FILE, as every
// flag does over its environment variable; giving two different files is a
// mistake.
func parseFileFlags(fs *flag.FlagSet, file *string, args []string) error {
	pos, args := positionalFile(fs, args)
	if pos != "" {
		args = append([]string{"--file=" + pos}, args...)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if pos != "" && *file != pos {
		return usageError(fmt.Sprintf("two files, %q and --file %q: give one", pos, *file))
	}
	return nil
}

// positionalFile takes FILE out of a command's arguments, first or last.
// A last argument is FILE unless the one before it is a flag of fs that
// takes a value (not a boolean such as --update) without =value.
func positionalFile(fs *flag.FlagSet, args []string) (string, []string) {
	n := len(args)
	takesValue := func(arg string) bool {
		if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
			return false
		}
		f := fs.Lookup(strings.TrimLeft(arg, "-"))
		if f == nil {
			return true
		}
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return !ok || !b.IsBoolFlag()
	}
	switch {
	case n > 0 && !strings.HasPrefix(args[0], "-"):
		return args[0], args[1:]
	case n > 0 && !strings.HasPrefix(args[n-1], "-") && (n == 1 || !takesValue(args[n-2])):
		return args[n-1], args[:n-1]
	}
	return "", args
}

// userDelete removes a user with their applications, keys, subscriptions
// and tokens; a running gateway refuses their tokens from the next call.
func userDelete(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user delete", "Removes a user with their applications, keys, subscriptions and tokens.", s)
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
	if err := d.DeleteUser(ctx, username); errors.Is(err, portal.ErrNotFound) {
		return fmt.Errorf("no user %q", username)
	} else if err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditUserDeleted, username, "", "apistore user delete: applications, keys, subscriptions and tokens ended")
	fmt.Fprintf(s.out, "deleted user %s\n", username)
	return nil
}
