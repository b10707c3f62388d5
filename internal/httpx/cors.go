package httpx

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// CORS is a pre-routing middleware that lets the scripts of origins
// (normalized as browsers send them, see config.Origin) call the routes
// under prefix from a browser and read the answers. A preflight from
// one of them is answered at once (204, methods and headers); any other
// origin gets no CORS headers, so the browser keeps its scripts out.
// No cookie is involved: requests authenticate with the Authorization
// header, so credentialed CORS is not allowed.
func CORS(prefix string, origins []string, methods, headers, expose string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if len(origins) == 0 || !strings.HasPrefix(r.URL.Path, prefix) {
				return next(c)
			}
			h := c.Response().Header()
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			if origin == "" || !slices.Contains(origins, origin) {
				return next(c)
			}
			h.Set("Access-Control-Allow-Origin", origin)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", headers)
				h.Set("Access-Control-Max-Age", "600")
				return c.NoContent(http.StatusNoContent)
			}
			if expose != "" {
				h.Set("Access-Control-Expose-Headers", expose)
			}
			return next(c)
		}
	}
}

// PublicCORS is a route middleware that lets scripts of any origin call
// the route and read its answer, errors included, with the response
// headers in expose (comma-separated, may be empty) readable too. It is
// for endpoints that read no cookie: what authorizes a request (a code,
// a token, a proof, or nothing for public documents) travels in the
// request itself, wherever it comes from. So the origin is "*" and
// credentialed requests are not allowed. A route that takes headers
// outside the CORS safelist, or a JSON body, also needs an OPTIONS route
// answered by Preflight.
func PublicCORS(expose string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Origin", "*")
			if expose != "" {
				h.Set("Access-Control-Expose-Headers", expose)
			}
			return next(c)
		}
	}
}

// Preflight answers the CORS preflight (OPTIONS) of a PublicCORS route
// that serves methods and takes the request headers in headers (both
// comma-separated). Register it with PublicCORS on the same path.
func Preflight(methods, headers string) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Allow", methods+", OPTIONS")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", headers)
		h.Set("Access-Control-Max-Age", "600")
		return c.NoContent(http.StatusNoContent)
	}
}
