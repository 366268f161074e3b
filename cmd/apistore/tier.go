package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

// tenantFlags are the store flags and --tenant of a command that acts on
// one tenant's objects; open, once they are parsed, opens the store and
// finds the tenant (an unknown one is a one-line error).
type tenantFlags struct {
	store  storeFlags
	tenant *string
}

func addTenantFlags(fs *flag.FlagSet, help string) tenantFlags {
	return tenantFlags{store: addStoreFlags(fs), tenant: fs.String("tenant", portal.SuperTenant, help)}
}

const tierTenantHelp = "the tenant whose tiers they are: they limit the subscriptions to its APIs"

func (f tenantFlags) open(ctx context.Context) (db.Store, *portal.Tenant, error) {
	d, err := f.store.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := lookupTenant(ctx, d, *f.tenant)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, t, nil
}

// tierSet adds a tier to a tenant, or sets a tier's limit for it.
func tierSet(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("tier set", "Adds a throttling tier to a tenant, or sets the limit of one of its tiers "+
		"(of a default tier, Gold, Silver or Bronze, for that tenant only). A running gateway applies it at the next call.", s)
	f := addTenantFlags(fs, tierTenantHelp)
	name := fs.String("name", "", "the tier's name, e.g. Platinum (required)")
	rpm := fs.Int("rpm", -1, "requests per minute a subscription on the tier may make (0: unlimited; required)")
	description := fs.String("description", "", "what the tier offers, for the tenant's publishers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := portal.CheckTierName(*name); err != nil {
		return usageError("--name: " + err.Error())
	}
	if err := portal.CheckTierRPM(*rpm); err != nil {
		return usageError("--rpm: " + err.Error())
	}
	d, t, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.PutTier(ctx, portal.Tier{TenantID: t.ID, Name: *name, RPM: *rpm, Description: *description}); err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditTierChanged, "", "", fmt.Sprintf("apistore tier set, tenant %s, tier %s, %d requests per minute", t.Domain, *name, *rpm))
	fmt.Fprintf(s.out, "tier %s of %s: %s\n", *name, t.Domain, portal.RPMText(*rpm))
	return nil
}

// tierDelete removes a tenant's tier, or its own limit of a default tier.
func tierDelete(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("tier delete", "Removes a tenant's own tier (refused while one of its APIs offers it, or a subscription or application is on it), "+
		"or the tenant's limit of a default tier, which then has the gateway's --tier-… limit again.", s)
	f := addTenantFlags(fs, tierTenantHelp)
	name := fs.String("name", "", "the tier's name (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError("--name is required")
	}
	d, t, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.DeleteTier(ctx, t.ID, *name)
	switch {
	case errors.Is(err, portal.ErrNotFound) && portal.IsDefaultTier(*name):
		return fmt.Errorf("%s has no limit of its own for tier %s: it has the gateway's already", t.Domain, *name)
	case errors.Is(err, portal.ErrNotFound):
		return fmt.Errorf("%s has no tier %q (see apistore tier list --tenant %s)", t.Domain, *name, t.Domain)
	case errors.Is(err, portal.ErrConflict):
		return fmt.Errorf("tier %s of %s is in use: remove it from the tenant's APIs, subscriptions and applications first", *name, t.Domain)
	case err != nil:
		return err
	}
	auditCommand(ctx, d, s, portal.AuditTierChanged, "", "", fmt.Sprintf("apistore tier delete, tenant %s, tier %s", t.Domain, *name))
	fmt.Fprintf(s.out, "tier %s of %s deleted\n", *name, t.Domain)
	return nil
}

// tierList prints a tenant's tiers: the default ones, each with the
// tenant's limit or the gateway's, then its own.
func tierList(ctx context.Context, args []string, s stdio) error {
	return tenantListCommand(ctx, args, s, "tier list", "Lists a tenant's throttling tiers with their limits.", tierTenantHelp,
		func(ctx context.Context, d db.Store, t *portal.Tenant) ([]portal.Tier, error) {
			custom, err := d.Tiers(ctx, t.ID)
			return portal.TenantTiers(custom), err
		},
		"NAME\tLIMIT\tDESCRIPTION",
		func(tier portal.Tier) string { return tier.Name + "\t" + tier.Limit() + "\t" + tier.Description })
}

// tenantListCommand is listCommand for one tenant's objects, the tenant
// named by --tenant.
func tenantListCommand[T any](ctx context.Context, args []string, s stdio, name, help, tenantHelp string,
	load func(context.Context, db.Store, *portal.Tenant) ([]T, error), header string, row func(T) string) error {
	fs := newFlags(name, help, s)
	f := addTenantFlags(fs, tenantHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d, t, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := load(ctx, d, t)
	if err != nil {
		return err
	}
	return writeTable(s.out, header, list, row)
}
