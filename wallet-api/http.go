package walletapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// Request body limits.
const (
	maxSmallBody  = 8 << 10
	maxOfferBody  = 32 << 10
	maxImportBody = MaxArchive + 8<<10
)

// accountKey is where the auth middleware leaves the signed-in account.
const accountKey = "walletapi.account"

// Register adds the wallet routes to g. Every route but account creation,
// sign-in and import needs "Authorization: Bearer <session token>" and
// touches only that session's account. Account creation, sign-in and
// import are rate-limited per client address; import's body may be up to
// MaxArchive bytes, so the server's global body limit must allow it.
func (s *Service) Register(g *echo.Group) {
	rl := httpx.NewRateLimiter(s.opt.ClientRate, s.opt.ClientBurst).Middleware()
	auth := s.authMiddleware
	s.registerPresentations(g)
	s.registerConsents(g)

	g.POST("/wallet/accounts", func(c echo.Context) error {
		var req Credentials
		if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
			return err
		}
		a, err := s.CreateAccount(c.Request().Context(), req)
		if err != nil {
			return problem(err)
		}
		return created(c, AccountInfo{ID: a.ID, Username: a.Username})
	}, rl)
	g.POST("/wallet/sessions", func(c echo.Context) error {
		var req Credentials
		if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
			return err
		}
		sess, err := s.SignIn(c.Request().Context(), req)
		if err != nil {
			return problem(err)
		}
		return created(c, sess)
	}, rl)
	g.DELETE("/wallet/sessions", func(c echo.Context) error {
		tok, _ := bearer(c.Request())
		if err := s.SignOutEverywhere(c.Request().Context(), account(c), tok); err != nil {
			return problem(err)
		}
		return c.NoContent(http.StatusNoContent)
	}, auth)

	g.GET("/wallet/keys", func(c echo.Context) error {
		ks, err := s.Keys(c.Request().Context(), account(c))
		if err != nil {
			return problem(err)
		}
		return ok(c, map[string]any{"keys": ks})
	}, auth)
	g.POST("/wallet/keys", func(c echo.Context) error {
		var req struct {
			Alg string `json:"alg"`
		}
		if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
			return err
		}
		k, err := s.CreateKey(c.Request().Context(), account(c), req.Alg)
		if err != nil {
			return problem(err)
		}
		return created(c, k)
	}, auth)

	g.GET("/wallet/dids", func(c echo.Context) error {
		ds, err := s.LedgerDIDs(c.Request().Context(), account(c))
		if err != nil {
			return problem(err)
		}
		return ok(c, map[string]any{"dids": ds})
	}, auth)
	g.POST("/wallet/dids", func(c echo.Context) error {
		var req struct {
			Method string `json:"method"`
			KeyID  string `json:"key_id,omitempty"`
		}
		if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
			return err
		}
		if req.Method != "medid" {
			return httpx.BadRequest("method", `must be "medid" (did:jwk and did:key come with every key)`)
		}
		d, err := s.CreateLedgerDID(c.Request().Context(), account(c), req.KeyID)
		if err != nil {
			return problem(err)
		}
		return created(c, d)
	}, auth)

	g.POST("/wallet/dids/:did/rotate", func(c echo.Context) error {
		var req struct {
			KeyID   string `json:"key_id,omitempty"`
			Recover bool   `json:"recover,omitempty"`
		}
		if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
			return err
		}
		d, err := url.PathUnescape(c.Param("did"))
		if err != nil || !strings.HasPrefix(d, "did:medid:") {
			return httpx.BadRequest("did", "must be a did:medid of this wallet")
		}
		out, err := s.RotateLedgerDID(c.Request().Context(), account(c), d, req.KeyID, req.Recover)
		if err != nil {
			return problem(err)
		}
		return ok(c, out)
	}, auth)

	g.POST("/wallet/offers", func(c echo.Context) error {
		var req OfferRequest
		if err := httpx.DecodeJSON(c.Request(), maxOfferBody, &req); err != nil {
			return err
		}
		ctx, a := c.Request().Context(), account(c)
		if !req.Accept {
			if req.TxCode != "" || req.KeyID != "" {
				return httpx.BadRequest("accept", "tx_code and key_id are only used with \"accept\": true")
			}
			p, err := s.PreviewOffer(ctx, a, req.Offer)
			if err != nil {
				return problem(err)
			}
			return ok(c, p)
		}
		res, err := s.AcceptOffer(ctx, a, req)
		if err != nil {
			return problem(err)
		}
		return created(c, res)
	}, auth)

	g.GET("/wallet/credentials", func(c echo.Context) error {
		cs, err := s.Credentials(c.Request().Context(), account(c))
		if err != nil {
			return problem(err)
		}
		return ok(c, map[string]any{"credentials": cs})
	}, auth)
	g.GET("/wallet/credentials/:id", func(c echo.Context) error {
		d, err := s.Credential(c.Request().Context(), account(c), c.Param("id"))
		if err != nil {
			return problem(err)
		}
		return ok(c, d)
	}, auth)
	g.DELETE("/wallet/credentials/:id", func(c echo.Context) error {
		if err := s.DeleteCredential(c.Request().Context(), account(c), c.Param("id")); err != nil {
			return problem(err)
		}
		return c.NoContent(http.StatusNoContent)
	}, auth)

	g.GET("/wallet/history", func(c echo.Context) error {
		limit, err := limitParam(c, 100, 1000)
		if err != nil {
			return err
		}
		h, err := s.History(c.Request().Context(), account(c), limit)
		if err != nil {
			return problem(err)
		}
		return ok(c, map[string]any{"history": h})
	}, auth)

	g.POST("/wallet/export", func(c echo.Context) error {
		var req struct {
			Passphrase string `json:"passphrase"`
		}
		if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
			return err
		}
		ar, err := s.Export(c.Request().Context(), account(c), req.Passphrase)
		if err != nil {
			return problem(err)
		}
		return ok(c, ar)
	}, auth)
	g.POST("/wallet/import", func(c echo.Context) error {
		var req ImportRequest
		if err := httpx.DecodeJSON(c.Request(), maxImportBody, &req); err != nil {
			return err
		}
		res, err := s.Import(c.Request().Context(), req)
		if err != nil {
			return problem(err)
		}
		return created(c, res)
	}, rl)
}

// authMiddleware requires a live session and puts its account in c.
func (s *Service) authMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, okTok := bearer(c.Request())
		if !okTok {
			return problem(ErrUnauthenticated)
		}
		a, err := s.Authenticate(c.Request().Context(), tok)
		if err != nil {
			return problem(err)
		}
		c.Set(accountKey, *a)
		return next(c)
	}
}

func account(c echo.Context) Account {
	a, _ := c.Get(accountKey).(Account)
	return a
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

func ok(c echo.Context, v any) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, v)
}

func created(c echo.Context, v any) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, v)
}

// limitParam reads the optional limit query parameter: an integer from 1
// to max, def when absent.
func limitParam(c echo.Context, def, max int) (int, error) {
	q := c.QueryParam("limit")
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, httpx.BadRequest("limit", "must be an integer from 1 to "+strconv.Itoa(max))
	}
	return n, nil
}
