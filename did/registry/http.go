package registry

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/ledger"
)

// maxRequest bounds registration request bodies.
const maxRequest = 128 << 10

// Register adds the DIF DID Registration API routes to g:
// POST /1.0/create?method=medid, POST /1.0/update, POST /1.0/deactivate.
// Callers without the admin token may only use client-managed secret mode,
// rate-limited per client address by limit.
func (g *Registrar) Register(e *echo.Group, adminToken string, limit *httpx.RateLimiter) {
	tok := []byte(adminToken)
	type op func(*Registrar, echo.Context, *Request, bool) (*RegistrationState, int, error)
	handle := func(f op) echo.HandlerFunc {
		return func(c echo.Context) error {
			admin := httpx.IsAdmin(c.Request(), tok)
			if !admin && c.Request().Header.Get("Authorization") != "" {
				return httpx.Unauthorized("the bearer token is not valid; omit Authorization for client-managed secret mode")
			}
			if !admin && limit != nil && !limit.Allow(httpx.ClientAddr(c)) {
				return &httpx.Error{Status: http.StatusTooManyRequests, Kind: "rate-limited", Title: "Too many requests",
					Detail: "too many registration requests from this client; retry later", RetryAfter: 1}
			}
			var req Request
			if err := httpx.DecodeJSON(c.Request(), maxRequest, &req); err != nil {
				return err
			}
			st, code, err := f(g, c, &req, admin)
			if err != nil {
				return problemFor(err)
			}
			return c.JSON(code, st)
		}
	}
	e.POST("/1.0/create", handle(func(g *Registrar, c echo.Context, r *Request, admin bool) (*RegistrationState, int, error) {
		m := c.QueryParam("method")
		if m == "" {
			return nil, 0, reqErr("method", "query parameter method=medid is required")
		}
		if m != Method {
			return nil, 0, reqErr("method", "method %q is not supported here (only medid)", m)
		}
		st, err := g.Create(c.Request().Context(), r, admin)
		return st, statusOf(st, http.StatusCreated), err
	}))
	e.POST("/1.0/update", handle(func(g *Registrar, c echo.Context, r *Request, admin bool) (*RegistrationState, int, error) {
		st, err := g.Update(c.Request().Context(), r, admin)
		return st, statusOf(st, http.StatusOK), err
	}))
	e.POST("/1.0/deactivate", handle(func(g *Registrar, c echo.Context, r *Request, admin bool) (*RegistrationState, int, error) {
		st, err := g.Deactivate(c.Request().Context(), r, admin)
		return st, statusOf(st, http.StatusOK), err
	}))
}

func statusOf(st *RegistrationState, finished int) int {
	if st != nil && st.DIDState.State == "finished" {
		return finished
	}
	return http.StatusOK
}

// problemFor maps registrar and registry errors to problem details.
func problemFor(err error) error {
	var re *RequestError
	var oe *OpError
	switch {
	case errors.As(err, &re):
		switch {
		case re.NotFound:
			e := httpx.NotFound(re.Error())
			e.Field = re.Field
			return e
		case re.Unauthenticated:
			e := httpx.Unauthorized(re.Error())
			e.Field = re.Field
			return e
		case re.Forbidden:
			e := httpx.Forbidden("forbidden", re.Error())
			e.Field = re.Field
			return e
		}
		return httpx.BadRequest(re.Field, re.Error())
	case errors.As(err, &oe):
		switch {
		case oe.Unauthorized:
			e := httpx.Forbidden("operation-not-authorized", oe.Error())
			e.Field = oe.Field
			return e
		case oe.Stale:
			e := httpx.Conflict(oe.Error())
			e.Field = oe.Field
			return e
		}
		return httpx.BadRequest(oe.Field, oe.Error())
	case errors.Is(err, ErrDeactivated):
		return &httpx.Error{Status: http.StatusGone, Kind: "deactivated", Title: "Gone", Detail: "the DID is deactivated", Field: "did"}
	case errors.Is(err, ledger.ErrPushback):
		return httpx.Unavailable("the ledger is busy; retry shortly", 1, err)
	}
	return httpx.AsError(err)
}
