package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apistore/apistore/portal"
)

// urlTenantKey holds, in the echo context, the *portal.Tenant whose store
// the request's URL names (/t/{domain}/store/…).
const urlTenantKey = "apistore.url-tenant"

// TenantStore serves a tenant's store at /t/{domain}/store/…, as WSO2 has
// it: the tenant is kept for the request and the path becomes the store's
// own, /store/…, for routing; the pages, their links and the redirects are
// built under /t/{domain}/store (tenantPath, layout.Page.Store). An
// unknown or deactivated tenant's store is not found. It must run before
// routing (echo's Pre).
func (h *Handlers) TenantStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		rest, ok := strings.CutPrefix(r.URL.Path, "/t/")
		if !ok {
			return next(c)
		}
		domain, sub, _ := strings.Cut(rest, "/")
		if sub != "store" && !strings.HasPrefix(sub, "store/") {
			return echo.ErrNotFound
		}
		t, err := h.storeTenant(r, domain)
		if err != nil {
			return err
		}
		r.URL.Path, r.URL.RawPath = "/"+sub, ""
		c.Set(urlTenantKey, t)
		return next(c)
	}
}

// tenantPageTTL is how long a tenant found active serves its store's GET
// and HEAD without its row being read again: a deactivated tenant's
// catalogue and API pages are gone within it, on every node. Whatever
// else a deactivation ends (log-ins, sessions, keys, tokens, and every
// other method of its store) ends at once.
const tenantPageTTL = time.Second

// pageTenant is a tenant found active, and until when its store's pages
// may take it without reading its row.
type pageTenant struct {
	tenant *portal.Tenant
	until  time.Time
}

// storeTenant is the active tenant of domain, or the not-found error of
// its store when there is none or it is deactivated. A GET or HEAD takes
// a tenant found active less than tenantPageTTL ago, which saves a round
// trip per page on PostgreSQL.
func (h *Handlers) storeTenant(r *http.Request, domain string) (*portal.Tenant, error) {
	key, now := strings.ToLower(domain), h.now()
	page := r.Method == http.MethodGet || r.Method == http.MethodHead
	if v, ok := h.tenants.Load(key); ok && page && now.Before(v.(pageTenant).until) {
		return v.(pageTenant).tenant, nil
	}
	t, err := h.store.TenantByDomain(r.Context(), domain)
	if isNotFound(err) || (err == nil && !t.Active) {
		h.tenants.Delete(key)
		return nil, echo.NewHTTPError(http.StatusNotFound, "There is no such store.")
	}
	if err != nil {
		return nil, err
	}
	h.tenants.Store(key, pageTenant{tenant: t, until: now.Add(tenantPageTTL)})
	return t, nil
}

// urlTenant is the tenant whose store the URL names, or nil for the super
// tenant's store (/store).
func urlTenant(c echo.Context) *portal.Tenant {
	t, _ := c.Get(urlTenantKey).(*portal.Tenant)
	return t
}

// viewerTenant is the tenant whose store the request sees: the logged-in
// user's, otherwise the URL's, otherwise the super tenant.
func (h *Handlers) viewerTenant(c echo.Context) int64 {
	if u := h.CurrentUser(c); u != nil {
		return max(u.TenantID, portal.SuperTenantID)
	}
	if t := urlTenant(c); t != nil {
		return t.ID
	}
	return portal.SuperTenantID
}

// tenantLogin is the full name of a username typed in a tenant's store:
// alice at /t/acme.com/store is alice@acme.com; in the super tenant's
// store a name is read as given.
func tenantLogin(c echo.Context, username string) string {
	t := urlTenant(c)
	if t == nil || username == "" || strings.HasSuffix(strings.ToLower(username), "@"+t.Domain) {
		return username
	}
	return portal.TenantUsername(username, t.Domain)
}

// ownTenant reports whether u may manage a of its tenant (the Publisher):
// tenants manage only their own APIs.
func ownTenant(u *portal.User, a *portal.API) bool {
	return u != nil && a.OwnedBy(u.TenantID)
}

// tenantAPIContext puts a tenant's API under /t/{domain}/ (a context
// typed without it gets it), and keeps /t/ for tenants: the problem with
// the context, or "".
func tenantAPIContext(u *portal.User, a *portal.API) string {
	if max(a.TenantID, portal.SuperTenantID) == portal.SuperTenantID {
		if strings.HasPrefix(a.Context, "/t/") {
			return "Contexts beginning with /t/ are kept for tenants' APIs."
		}
		return ""
	}
	if prefix := "/t/" + u.Tenant + "/"; !strings.HasPrefix(a.Context, prefix) {
		if strings.HasPrefix(a.Context, "/t/") {
			return "Contexts beginning with /t/ are kept for tenants' APIs: give the context without /t/" + u.Tenant + "."
		}
		a.Context = portal.TenantContext(u.Tenant, a.Context)
	}
	return ""
}

// tenantPath is path (/store/…, as routed) in the store the URL names:
// under /t/{domain} for a tenant's, so that its visitors stay in it (and a
// bare name at its log-in stays the tenant's user's).
func tenantPath(c echo.Context, path string) string {
	if t := urlTenant(c); t != nil {
		return "/t/" + t.Domain + path
	}
	return path
}

// storeRedirect sends the browser on to path (/store/…) in the store the
// URL names, 303 See Other: the answer to a store form.
func storeRedirect(c echo.Context, path string) error {
	return c.Redirect(http.StatusSeeOther, tenantPath(c, path))
}

// otherTenant is the domain of the tenant, other than the URL's store's,
// whose users' names username ends like (alice@acme.com signing up at the
// super tenant's store), or "": a user signs up in the store's own tenant
// only.
func (h *Handlers) otherTenant(c echo.Context, username string) (string, error) {
	_, domain := portal.SplitTenant(username)
	if domain == "" || strings.EqualFold(domain, portal.SuperTenant) {
		return "", nil
	}
	t, err := h.store.TenantByDomain(c.Request().Context(), domain)
	switch {
	case isNotFound(err):
		return "", nil // an e-mail username of the store's tenant
	case err != nil:
		return "", err
	}
	if own := urlTenant(c); own != nil && own.ID == t.ID {
		return "", nil
	}
	return t.Domain, nil
}
