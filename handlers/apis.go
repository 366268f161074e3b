package handlers

import (
	"net/http"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/templates/layout"
	"github.com/apistore/apistore/templates/pages/store"
	"github.com/labstack/echo/v4"
)

// Catalogue lists the published APIs, GET /store.
func (h *Handlers) Catalogue(c echo.Context) error {
	apis, err := h.db.PublishedAPIs(c.Request().Context())
	if err != nil {
		return err
	}
	views := make([]store.APIView, len(apis))
	for i := range apis {
		views[i] = apiView(&apis[i])
	}
	return render(c, http.StatusOK, store.Catalogue(h.page(c, "APIs", layout.NavAPIs), views))
}

func apiView(a *db.API) store.APIView {
	v := store.APIView{ID: a.ID, Name: a.Name, Version: a.Version, Context: a.Context,
		Description: a.Description, Tiers: a.Tiers}
	for _, r := range a.Resources {
		v.Resources = append(v.Resources, store.ResourceView{Method: r.Method, Path: r.Path, Scope: r.Scope})
	}
	return v
}
