package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// tenantCreate makes a tenant with its first administrator, whose
// password is the first line of standard input; the administrator logs in
// as NAME@DOMAIN.
func tenantCreate(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("tenant create", "Adds a tenant with its own users, applications and APIs, and its administrator "+
		"(who logs in as ADMIN@DOMAIN). The administrator's password is read from standard input.", s)
	store := addStoreFlags(fs)
	domain := fs.String("domain", "", "the tenant's domain, e.g. acme.com: its users log in as name@acme.com (required)")
	admin := fs.String("admin", "", "the tenant administrator's name within the tenant, e.g. admin (required)")
	email := fs.String("email", "", "the administrator's e-mail address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	*domain = strings.ToLower(*domain)
	if !portal.ValidTenantDomain(*domain) || *domain == portal.SuperTenant {
		return usageError("--domain: a domain name such as acme.com (lower-case letters, digits, . and -), not carbon.super")
	}
	if *admin == "" || strings.ContainsAny(*admin, "@/") {
		return usageError("--admin: the administrator's name within the tenant, without @ or /")
	}
	if err := oauth.CheckUsername(portal.TenantUsername(*admin, *domain)); err != nil {
		return err
	}
	hash, err := newPasswordHash(s, "", "no password: write the administrator's password to standard input")
	if err != nil {
		return err
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	t := &portal.Tenant{Domain: *domain}
	u := &portal.User{User: oauth.User{Username: *admin, PasswordHash: hash, Roles: []string{"admin", "subscriber"}}, Email: *email}
	if err := d.CreateTenant(ctx, t, u); err != nil {
		if errors.Is(err, portal.ErrConflict) {
			return fmt.Errorf("tenant %q already exists, or a user's name already ends with @%s", *domain, *domain)
		}
		return err
	}
	auditCommand(ctx, d, s, portal.AuditTenantCreated, u.Username, "", "apistore tenant create: "+t.Domain)
	fmt.Fprintf(s.out, "created tenant %s; its administrator logs in as %s\n", t.Domain, u.Username)
	return nil
}

// tenantList prints the tenants.
func tenantList(ctx context.Context, args []string, s stdio) error {
	return listCommand(ctx, args, s, "tenant list", "Lists the tenants, the super tenant first.",
		func(ctx context.Context, d db.Store) ([]portal.Tenant, error) { return d.Tenants(ctx) },
		"DOMAIN\tSTATUS\tCREATED",
		func(t portal.Tenant) string {
			status, created := "active", t.CreatedAt.UTC().Format(time.DateOnly)
			if !t.Active {
				status = "deactivated"
			}
			if t.ID == portal.SuperTenantID {
				created = "-"
			}
			return t.Domain + "\t" + status + "\t" + created
		})
}

func tenantDeactivate(ctx context.Context, args []string, s stdio) error {
	return tenantSetActive(ctx, args, s, false)
}

func tenantActivate(ctx context.Context, args []string, s stdio) error {
	return tenantSetActive(ctx, args, s, true)
}

// tenantSetActive deactivates a tenant (its users cannot log in, its keys
// and tokens are refused at once, on every node) or activates it again.
func tenantSetActive(ctx context.Context, args []string, s stdio, active bool) error {
	verb, help := "deactivate", "Deactivates a tenant: its users cannot log in and its keys and tokens are refused at once, until it is activated."
	if active {
		verb, help = "activate", "Activates a deactivated tenant again: its users, keys and unexpired tokens work again."
	}
	fs := newFlags("tenant "+verb, help, s)
	store := addStoreFlags(fs)
	domain := fs.String("domain", "", "the tenant's domain (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *domain == "" {
		return usageError("--domain is required")
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.SetTenantActive(ctx, *domain, active)
	switch {
	case errors.Is(err, portal.ErrNotFound):
		return fmt.Errorf("no tenant %q", *domain)
	case errors.Is(err, portal.ErrConflict):
		return fmt.Errorf("the super tenant cannot be deactivated")
	case err != nil:
		return err
	}
	event := portal.AuditTenantDeactivated
	if active {
		event = portal.AuditTenantActivated
	}
	auditCommand(ctx, d, s, event, "", "", "apistore tenant "+verb+": "+strings.ToLower(*domain))
	fmt.Fprintf(s.out, "tenant %s %sd\n", strings.ToLower(*domain), verb)
	return nil
}
