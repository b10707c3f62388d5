package issuer

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/qrcode"
)

// maxFormBody bounds OAuth form bodies and credential requests.
const maxFormBody = 64 << 10

// Register adds the issuer's routes to e: the admin offer API (behind
// admin), the public offer-by-reference, metadata, token, nonce and
// credential endpoints. validate checks offer claims per configuration.
func (s *Service) Register(e *echo.Group, admin echo.MiddlewareFunc, validate ClaimsValidator) {
	e.POST("/issuer/offers", func(c echo.Context) error {
		var req OfferRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		o, err := s.CreateOffer(c.Request().Context(), req, s.opt.CredentialIssuer+"/issuer/offers", validate)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return httpx.BadRequest(fe.Field, fe.Error())
			}
			var ce *ClaimsError
			if errors.As(err, &ce) {
				return httpx.Unprocessable("invalid-claims", ce.Field, err.Error())
			}
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusCreated, o)
	}, admin)
	e.GET("/issuer/offers/:id", func(c echo.Context) error {
		b, err := s.CredentialOffer(c.Request().Context(), c.Param("id"))
		if errors.Is(err, ErrOfferNotFound) {
			return httpx.NotFound(err.Error())
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Blob(http.StatusOK, "application/json", b)
	})
	qr := func(render func(string) ([]byte, error), ctype string) echo.HandlerFunc {
		return func(c echo.Context) error {
			link, err := s.OfferLink(c.Request().Context(), c.Param("id"))
			if errors.Is(err, ErrOfferNotFound) {
				return httpx.NotFound(err.Error())
			}
			if err != nil {
				return err
			}
			b, err := render(link)
			if err != nil {
				return err
			}
			c.Response().Header().Set("Cache-Control", "no-store")
			return c.Blob(http.StatusOK, ctype, b)
		}
	}
	e.GET("/issuer/offers/:id/qr.png", qr(func(l string) ([]byte, error) { return qrcode.PNG(l, 6) }, "image/png"))
	e.GET("/issuer/offers/:id/qr.svg", qr(qrcode.SVG, "image/svg+xml"))
	e.POST("/notification", func(c echo.Context) error {
		tok, err := bearer(c.Request())
		if err != nil {
			return s.oauthError(c, err)
		}
		var req struct {
			ID          string `json:"notification_id"`
			Event       string `json:"event"`
			Description string `json:"event_description,omitempty"`
		}
		if err := httpx.DecodeJSON(c.Request(), 4<<10, &req); err != nil {
			return s.oauthError(c, oauthErr("invalid_notification_request", http.StatusBadRequest, "%s", httpx.AsError(err).Detail))
		}
		if err := s.Notify(c.Request().Context(), tok, req.ID, req.Event); err != nil {
			return s.oauthError(c, err)
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/.well-known/jwt-vc-issuer", func(c echo.Context) error {
		if s.opt.Keys == nil {
			return httpx.NotFound("no JWT VC issuer metadata")
		}
		k, err := s.opt.Keys(c.Request().Context(), keys.ES256)
		if err != nil {
			return err
		}
		jwk, err := k.Key.PublicJWK()
		if err != nil {
			return err
		}
		if err := jwk.Set("kid", k.KID); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"issuer": s.opt.CredentialIssuer, "jwks": map[string]any{"keys": []any{jwk}}})
	})
	e.GET("/.well-known/openid-credential-issuer", func(c echo.Context) error {
		return c.JSON(http.StatusOK, s.Metadata())
	})
	e.GET("/.well-known/oauth-authorization-server", func(c echo.Context) error {
		return c.JSON(http.StatusOK, s.AuthorizationServerMetadata())
	})
	e.POST("/token", s.oauth(func(c echo.Context) (any, error) {
		if err := requireForm(c.Request()); err != nil {
			return nil, err
		}
		if err := c.Request().ParseForm(); err != nil {
			return nil, invalidRequest("malformed form body")
		}
		return s.Token(c.Request().Context(), c.Request().PostForm)
	}))
	e.POST("/nonce", s.oauth(func(c echo.Context) (any, error) {
		n, err := s.Nonce(c.Request().Context())
		if err != nil {
			return nil, err
		}
		return map[string]string{"c_nonce": n}, nil
	}))
	e.POST("/credential", s.oauth(func(c echo.Context) (any, error) {
		tok, err := bearer(c.Request())
		if err != nil {
			return nil, err
		}
		var req CredentialRequest
		if err := httpx.DecodeJSON(c.Request(), maxFormBody, &req); err != nil {
			he := httpx.AsError(err)
			return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "%s", he.Detail)
		}
		return s.Credential(c.Request().Context(), tok, &req)
	}))
}

// oauth renders a handler's result as JSON, and its error as an OAuth
// error response (never problem+json: OAuth clients expect error codes).
func (s *Service) oauth(h func(echo.Context) (any, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxFormBody)
		out, err := h(c)
		if err != nil {
			return s.oauthError(c, err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}
}

// oauthError renders err as an OAuth error response; an error that is not
// an *OAuthError is logged and answered as server_error.
func (s *Service) oauthError(c echo.Context, err error) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	oe := AsOAuth(err)
	if oe == nil {
		s.opt.Logger.ErrorContext(c.Request().Context(), "issuer endpoint failed", "path", c.Path(), "error", err)
		oe = &OAuthError{Code: "server_error", Status: http.StatusInternalServerError, Description: "the issuer could not complete the request"}
	}
	if oe.Status == http.StatusUnauthorized {
		// RFC 6750 §3.1: no error code when no token was sent.
		if c.Request().Header.Get("Authorization") == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="medid"`)
		} else {
			c.Response().Header().Set("WWW-Authenticate", `Bearer error="`+oe.Code+`"`)
		}
	}
	return c.JSON(oe.Status, oe)
}

func requireForm(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return invalidRequest("the token request must be application/x-www-form-urlencoded")
	}
	return nil
}

func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		if strings.EqualFold(scheme, "DPoP") {
			return "", invalidToken("DPoP-bound access tokens are not issued yet; use Bearer")
		}
		return "", invalidToken("an access token is required (Authorization: Bearer …)")
	}
	return strings.TrimSpace(tok), nil
}

// Metadata is the credential issuer metadata (OpenID4VCI 1.0 §12.2).
func (s *Service) Metadata() map[string]any {
	base := s.opt.CredentialIssuer
	configs := map[string]any{}
	for _, c := range s.opt.Configurations {
		m := map[string]any{
			"format": c.Format,
			"cryptographic_binding_methods_supported": bindingMethods(c.Format),
			"credential_signing_alg_values_supported": c.SigningAlgs,
			"proof_types_supported": map[string]any{
				"jwt": map[string]any{"proof_signing_alg_values_supported": []string{"ES256", "EdDSA"}},
			},
			"credential_metadata": map[string]any{"display": c.Display, "claims": c.Claims},
		}
		if c.VCT != "" {
			m["vct"] = c.VCT
		}
		if len(c.Types) > 0 {
			m["credential_definition"] = map[string]any{"type": c.Types}
		}
		configs[c.ID] = m
	}
	return map[string]any{
		"credential_issuer":                   base,
		"credential_endpoint":                 base + "/credential",
		"nonce_endpoint":                      base + "/nonce",
		"notification_endpoint":               base + "/notification",
		"batch_credential_issuance":           map[string]any{"batch_size": s.opt.BatchSize},
		"display":                             []Display{{Name: "medid", Locale: "en"}},
		"credential_configurations_supported": configs,
	}
}

// AuthorizationServerMetadata is RFC 8414 metadata for the token endpoint.
func (s *Service) AuthorizationServerMetadata() map[string]any {
	base := s.opt.CredentialIssuer
	return map[string]any{
		"issuer":                base,
		"token_endpoint":        base + "/token",
		"grant_types_supported": []string{GrantPreAuthorized},
		"pre-authorized_grant_anonymous_access_supported": true,
		"response_types_supported":                        []string{},
		"token_endpoint_auth_methods_supported":           []string{"none"},
	}
}

// bindingMethods says how a format binds the credential to the holder:
// SD-JWT VC through cnf.jwk, jwt_vc_json through the subject's did:jwk.
func bindingMethods(format string) []string {
	if format == "jwt_vc_json" {
		return []string{"did:jwk"}
	}
	return []string{"jwk"}
}
