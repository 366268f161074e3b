package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/apistore/apistore/gateway"
	"github.com/apistore/apistore/portal"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

// where is where the API listeners are reached, for definitions and the
// API page.
func (h *Handlers) where(c echo.Context) gateway.Where {
	bases := h.apiURLs(c)
	return gateway.Where{Gateways: bases, TokenURL: bases[0] + "/token", AuthorizeURL: bases[0] + "/authorize"}
}

// definition is the OpenAPI definition of a published API.
func (h *Handlers) definition(c echo.Context, a *portal.API) (*openapi3.T, error) {
	var names []string
	for _, r := range a.Resources {
		if r.Scope != "" {
			names = append(names, r.Scope)
		}
	}
	ctx := c.Request().Context()
	scopes, err := h.store.ScopesByName(ctx, portal.ContextTenant(a.Context), names)
	if err != nil {
		return nil, err
	}
	doc, err := gateway.Definition(ctx, a, scopes, h.where(c))
	if err != nil && len(a.Definition) > 0 {
		// An imported document that no longer reads (a stricter
		// kin-openapi, say) must not take the API's pages down: the one
		// made from the resources stands in.
		slog.WarnContext(ctx, "store: imported definition unusable, made one from the resources", "api", a.ID, "err", err)
		plain := *a
		plain.Definition = nil
		return gateway.Definition(ctx, &plain, scopes, h.where(c))
	}
	return doc, err
}

// DefinitionJSON downloads a published API's OpenAPI definition,
// GET /store/apis/:id/openapi.json.
func (h *Handlers) DefinitionJSON(c echo.Context) error {
	return h.downloadDefinition(c, "json", echo.MIMEApplicationJSON, (*openapi3.T).MarshalJSON)
}

// DefinitionYAML downloads it in YAML, GET /store/apis/:id/openapi.yaml.
func (h *Handlers) DefinitionYAML(c echo.Context) error {
	return h.downloadDefinition(c, "yaml", "application/yaml", gateway.DefinitionYAML)
}

func (h *Handlers) downloadDefinition(c echo.Context, ext, mime string, encode func(*openapi3.T) ([]byte, error)) error {
	a, err := h.publishedAPI(c)
	if err != nil {
		return err
	}
	doc, err := h.definition(c, a)
	if err != nil {
		return err
	}
	data, err := encode(doc)
	if err != nil {
		return err
	}
	name := strings.Trim(strings.ReplaceAll(a.Context, "/", "-"), "-") + "-" + a.Version + "." + ext
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	return c.Blob(http.StatusOK, mime+"; charset=utf-8", data)
}

// APIReference is a published API's documentation rendered from its
// definition, GET /store/apis/:id/reference.
func (h *Handlers) APIReference(c echo.Context) error {
	a, err := h.publishedAPI(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, store.Reference(h.page(c, a.Name+" reference", layout.NavAPIs), apiView(a)))
}
