package walletapi

import (
	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// maxPresentBody bounds POST /wallet/presentations(/preview): a request by
// value (vpclient.MaxLink) and the patient's choices.
const maxPresentBody = 64 << 10

// registerPresentations adds the OpenID4VP routes. Every one needs a
// session and touches only its account.
//
//	POST /wallet/presentations/preview  {"request"}             200 PresentationPreview
//	POST /wallet/presentations          {"request","choices"}   200 PresentationResult
//	GET  /wallet/presentations?limit=N                          200 {"presentations": [...]}
func (s *Service) registerPresentations(g *echo.Group) {
	auth := s.authMiddleware
	g.POST("/wallet/presentations/preview", func(c echo.Context) error {
		var req struct {
			Request string `json:"request"`
		}
		if err := httpx.DecodeJSON(c.Request(), maxPresentBody, &req); err != nil {
			return err
		}
		p, err := s.PreviewPresentation(c.Request().Context(), account(c), req.Request)
		if err != nil {
			return problem(err)
		}
		return ok(c, p)
	}, auth)
	g.POST("/wallet/presentations", func(c echo.Context) error {
		var req PresentRequest
		if err := httpx.DecodeJSON(c.Request(), maxPresentBody, &req); err != nil {
			return err
		}
		res, err := s.Present(c.Request().Context(), account(c), req)
		if err != nil {
			return problem(err)
		}
		return ok(c, res)
	}, auth)
	g.GET("/wallet/presentations", func(c echo.Context) error {
		limit, err := limitParam(c, 100, 1000)
		if err != nil {
			return err
		}
		ps, err := s.Presentations(c.Request().Context(), account(c), limit)
		if err != nil {
			return problem(err)
		}
		return ok(c, map[string]any{"presentations": ps})
	}, auth)
}
