package walletapi

import (
	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// registerConsents adds the consent and access log routes, all behind a
// session, each touching only that session's account:
//
//	POST   /wallet/consents        ConsentRequest → 201 Consent
//	GET    /wallet/consents        → 200 {"consents": [Consent]}
//	DELETE /wallet/consents/{id}   → 200 Consent (revoked)
//	GET    /wallet/access-log?limit=&cursor= → 200 AccessLogView
//
// The consent routes exist only with Options.ConsentIssuer, the access log
// only with Options.AccessLog, LedgerProofs and LedgerKey.
func (s *Service) registerConsents(g *echo.Group) {
	auth := s.authMiddleware
	if s.opt.ConsentIssuer != nil {
		g.POST("/wallet/consents", func(c echo.Context) error {
			var req ConsentRequest
			if err := httpx.DecodeJSON(c.Request(), maxSmallBody, &req); err != nil {
				return err
			}
			out, err := s.CreateConsent(c.Request().Context(), account(c), req)
			if err != nil {
				return problem(err)
			}
			return created(c, out)
		}, auth)
		g.GET("/wallet/consents", func(c echo.Context) error {
			cs, err := s.Consents(c.Request().Context(), account(c))
			if err != nil {
				return problem(err)
			}
			return ok(c, map[string]any{"consents": cs})
		}, auth)
		g.DELETE("/wallet/consents/:id", func(c echo.Context) error {
			out, err := s.RevokeConsent(c.Request().Context(), account(c), c.Param("id"))
			if err != nil {
				return problem(err)
			}
			return ok(c, out)
		}, auth)
	}
	if s.opt.AccessLog != nil && s.opt.LedgerProofs != nil && s.opt.LedgerKey != "" {
		g.GET("/wallet/access-log", func(c echo.Context) error {
			limit, err := limitParam(c, 0, MaxAccessLogLimit)
			if err != nil {
				return err
			}
			v, err := s.AccessLog(c.Request().Context(), account(c), limit, c.QueryParam("cursor"))
			if err != nil {
				return problem(err)
			}
			return ok(c, v)
		}, auth)
	}
}
