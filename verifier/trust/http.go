package trust

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// maxBody bounds a PUT body: MaxIssuers DIDs of a few hundred bytes.
const maxBody = httpx.MaxJSONBody

// Register adds the admin API over the lists, every route behind admin:
//
//	GET    /verifier/trusted-issuers          200 {"trusted_issuers": [List…]}
//	GET    /verifier/trusted-issuers/{type}   200 List, 404
//	PUT    /verifier/trusted-issuers/{type}   {"issuers": [DID…]} → 200 List, 400
//	DELETE /verifier/trusted-issuers/{type}   204
//
// {type} is path-escaped (a vct URL's "/" as %2F).
func (r *Registry) Register(g *echo.Group, admin echo.MiddlewareFunc) {
	g.GET("/verifier/trusted-issuers", func(c echo.Context) error {
		all, err := r.All(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"trusted_issuers": all})
	}, admin)
	g.GET("/verifier/trusted-issuers/:type", func(c echo.Context) error {
		typ, err := typeParam(c)
		if err != nil {
			return err
		}
		l, err := r.Get(c.Request().Context(), typ)
		if errors.Is(err, ErrNotFound) {
			return httpx.NotFound("no trusted issuers are configured for this type")
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, l)
	}, admin)
	g.PUT("/verifier/trusted-issuers/:type", func(c echo.Context) error {
		typ, err := typeParam(c)
		if err != nil {
			return err
		}
		var req struct {
			Issuers *[]string `json:"issuers"`
		}
		if err := httpx.DecodeJSON(c.Request(), maxBody, &req); err != nil {
			return err
		}
		if req.Issuers == nil {
			return httpx.BadRequest("issuers", "issuers (an array of DIDs) is required")
		}
		l, err := r.Set(c.Request().Context(), typ, *req.Issuers)
		if errors.Is(err, ErrInvalid) {
			return httpx.BadRequest("issuers", err.Error())
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, l)
	}, admin)
	g.DELETE("/verifier/trusted-issuers/:type", func(c echo.Context) error {
		typ, err := typeParam(c)
		if err != nil {
			return err
		}
		if err := r.Delete(c.Request().Context(), typ); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}, admin)
}

func typeParam(c echo.Context) (string, error) {
	typ, err := url.PathUnescape(c.Param("type"))
	if err != nil {
		return "", httpx.BadRequest("type", "malformed type")
	}
	if err := CheckType(typ); err != nil {
		return "", httpx.BadRequest("type", err.Error())
	}
	return typ, nil
}
