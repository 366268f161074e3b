package portal

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/apistore/apistore/oauth"
)

// SuperTenant is the tenant that holds everything that existed before
// tenants, and every user whose name carries no other tenant's domain.
const (
	SuperTenant   = oauth.SuperTenant
	SuperTenantID = 1
)

// Tenant is an organisation with its own users, applications and APIs,
// as WSO2 API Manager has them; its users log in as name@domain.
type Tenant struct {
	ID        int64
	Domain    string
	Active    bool // a deactivated tenant's users cannot log in, its tokens are refused
	CreatedAt time.Time
}

// TenantSeed is a tenant to add in bulk (Store.SeedTenants) with its
// administrator, as CreateTenant makes them, and its APIs, as CreateAPI
// makes them (their TenantID is set; their contexts are kept as given).
type TenantSeed struct {
	Tenant *Tenant
	Admin  *User
	APIs   []*API
}

// SeedBatch is how many tenants Store.SeedTenants adds per transaction.
const SeedBatch = 250

// SplitTenant splits a log-in name at its last '@' into the name and the
// tenant domain it names (empty when it has no '@'); the caller decides
// whether that domain is a tenant (see Store.UserAccount).
func SplitTenant(username string) (name, domain string) {
	i := strings.LastIndexByte(username, '@')
	if i < 0 {
		return username, ""
	}
	return username[:i], username[i+1:]
}

// StoredUsername is the name under which a user is kept: the log-in name
// without the super tenant's suffix (admin@carbon.super is admin). Other
// tenants' users are kept under their full names, alice@acme.com, so a
// name is unique across tenants and found without its tenant.
func StoredUsername(username string) string {
	if name, domain := SplitTenant(username); strings.EqualFold(domain, SuperTenant) {
		return name
	}
	return username
}

// TenantUsername is the stored name of name in tenant.
func TenantUsername(name, tenant string) string {
	if tenant == "" || strings.EqualFold(tenant, SuperTenant) {
		return name
	}
	return name + "@" + strings.ToLower(tenant)
}

// ValidTenantDomain reports whether domain may name a tenant: a DNS-like
// name of lower-case letters, digits, dots and hyphens, with a dot.
func ValidTenantDomain(domain string) bool {
	if len(domain) < 3 || len(domain) > 253 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	for _, r := range domain {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// TenantOrSuper is a user's or token's tenant domain: "" is the super
// tenant's.
func TenantOrSuper(domain string) string {
	if domain == "" {
		return SuperTenant
	}
	return domain
}

// TenantIDOf is a user's or API's tenant id: 0 is the super tenant's.
func TenantIDOf(id int64) int64 {
	if id == 0 {
		return SuperTenantID
	}
	return id
}

// ResolveTenant sets the tenant of a new user that has none from its name
// (alice@acme.com, when lookup finds the tenant acme.com), and drops the
// super tenant's suffix; a name whose suffix is no tenant stays the super
// tenant's (an e-mail username).
func ResolveTenant(ctx context.Context, lookup func(context.Context, string) (*Tenant, error), u *User) error {
	u.Username = StoredUsername(u.Username)
	if u.TenantID != 0 {
		return nil
	}
	name, domain := SplitTenant(u.Username)
	if domain == "" {
		return nil
	}
	t, err := lookup(ctx, domain)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	u.TenantID, u.Username = t.ID, TenantUsername(name, t.Domain)
	return nil
}
