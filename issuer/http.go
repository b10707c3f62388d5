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
// admin: create, approve a deferred offer), the public offer-by-reference,
// metadata, token, nonce, credential, deferred credential and notification
// endpoints, which answer CORS requests from any origin (walletCORS).
// validate checks offer claims per configuration.
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
	e.POST("/issuer/offers/:id/approve", func(c echo.Context) error {
		id := c.Param("id")
		err := s.ApproveOffer(c.Request().Context(), id)
		if errors.Is(err, ErrDeferredOfferNotFound) {
			return httpx.NotFound(err.Error())
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{"id": id, "approved": true})
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
	}, walletCORS)
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
	e.POST("/notification", s.oauth(func(c echo.Context) (any, error) {
		a, err := s.Authorize(c.Request().Context(), s.presented(c, "/notification"))
		if err != nil {
			return nil, err
		}
		var req struct {
			ID          string `json:"notification_id"`
			Event       string `json:"event"`
			Description string `json:"event_description,omitempty"`
		}
		if err := httpx.DecodeJSON(c.Request(), 4<<10, &req); err != nil {
			return nil, oauthErr("invalid_notification_request", http.StatusBadRequest, "%s", httpx.AsError(err).Detail)
		}
		if err := s.Notify(c.Request().Context(), a, req.ID, req.Event); err != nil {
			return nil, err
		}
		return noContent{}, nil
	}), walletCORS)
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
	}, walletCORS)
	e.GET("/.well-known/openid-credential-issuer", func(c echo.Context) error {
		return c.JSON(http.StatusOK, s.Metadata())
	}, walletCORS)
	e.GET("/.well-known/oauth-authorization-server", func(c echo.Context) error {
		return c.JSON(http.StatusOK, s.AuthorizationServerMetadata())
	}, walletCORS)
	e.POST("/token", s.oauth(func(c echo.Context) (any, error) {
		if err := requireForm(c.Request()); err != nil {
			return nil, err
		}
		if err := c.Request().ParseForm(); err != nil {
			return nil, invalidRequest("malformed form body")
		}
		return s.Token(c.Request().Context(), c.Request().PostForm, s.dpopInput(c, "/token"))
	}), walletCORS)
	e.POST("/nonce", s.oauth(func(c echo.Context) (any, error) {
		n, err := s.Nonce(c.Request().Context())
		if err != nil {
			return nil, err
		}
		return map[string]string{"c_nonce": n}, nil
	}), walletCORS)
	e.POST("/credential", s.oauth(func(c echo.Context) (any, error) {
		a, err := s.Authorize(c.Request().Context(), s.presented(c, "/credential"))
		if err != nil {
			return nil, err
		}
		var req CredentialRequest
		if err := httpx.DecodeJSON(c.Request(), maxFormBody, &req); err != nil {
			he := httpx.AsError(err)
			return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "%s", he.Detail)
		}
		return s.Credential(c.Request().Context(), a, &req)
	}), walletCORS)
	e.POST("/deferred_credential", s.oauth(func(c echo.Context) (any, error) {
		a, err := s.Authorize(c.Request().Context(), s.presented(c, "/deferred_credential"))
		if err != nil {
			return nil, err
		}
		var req struct {
			TransactionID string `json:"transaction_id"`
			// credential_response_encryption is not supported; a request
			// asking for it is refused by the strict decoder.
		}
		if err := httpx.DecodeJSON(c.Request(), 4<<10, &req); err != nil {
			return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "%s", httpx.AsError(err).Detail)
		}
		return s.DeferredCredential(c.Request().Context(), a, req.TransactionID)
	}), walletCORS)
	for _, path := range []string{"/token", "/nonce", "/credential", "/deferred_credential", "/notification"} {
		e.OPTIONS(path, httpx.Preflight("POST", "Authorization, Content-Type, DPoP"), walletCORS)
	}
}

// walletCORS opens the wallet-facing endpoints (offer by reference,
// metadata, token, nonce, credential, deferred credential, notification)
// to browser-based wallets of any origin, and the SD-JWT VC issuer
// metadata to browser-based verifiers (httpx.PublicCORS): none reads
// a cookie; the pre-authorized code, the access token and its DPoP proof
// authorize a request. The token and DPoP nonce challenges are readable.
// The admin offer API and the QR codes answer no CORS requests.
var walletCORS = httpx.PublicCORS("WWW-Authenticate, DPoP-Nonce")

// noContent is a handler result answered with 204 and no body.
type noContent struct{}

// dpopInput is what a DPoP proof sent to the endpoint at path must match:
// the request method and the endpoint's public URL.
func (s *Service) dpopInput(c echo.Context, path string) DPoPInput {
	r := c.Request()
	return DPoPInput{Proofs: r.Header.Values("DPoP"), Method: r.Method, URL: strings.TrimRight(s.opt.CredentialIssuer, "/") + path}
}

// presented is the access token a resource request at path presented.
func (s *Service) presented(c echo.Context, path string) Presented {
	return Presented{Authorization: c.Request().Header.Get("Authorization"), DPoP: s.dpopInput(c, path)}
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
		s.offerDPoPNonce(c, "")
		switch r := out.(type) {
		case noContent:
			return c.NoContent(http.StatusNoContent)
		case *CredentialResponse:
			if r.Pending() {
				return c.JSON(http.StatusAccepted, r)
			}
		}
		return c.JSON(http.StatusOK, out)
	}
}

// offerDPoPNonce sends a fresh DPoP-Nonce (RFC 9449 §8) when the issuer
// requires nonces and the request used DPoP, or its error asks for one.
func (s *Service) offerDPoPNonce(c echo.Context, code string) {
	if !s.opt.DPoPNonce || (code != CodeUseDPoPNonce && len(c.Request().Header.Values("DPoP")) == 0) {
		return
	}
	n, err := s.DPoPNonce()
	if err != nil {
		s.opt.Logger.ErrorContext(c.Request().Context(), "DPoP nonce", "error", err)
		return
	}
	c.Response().Header().Set("DPoP-Nonce", n)
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
	s.offerDPoPNonce(c, oe.Code)
	if oe.Status == http.StatusUnauthorized {
		algs := `algs="` + strings.Join(dpopAlgs, " ") + `"`
		auth := c.Request().Header.Get("Authorization")
		scheme, _, _ := strings.Cut(auth, " ")
		switch {
		case oe.Code == CodeInvalidDPoPProof || oe.Code == CodeUseDPoPNonce || strings.EqualFold(scheme, schemeDPoP):
			// RFC 9449 §7.1.
			c.Response().Header().Set("WWW-Authenticate", `DPoP error="`+oe.Code+`", `+algs)
		case auth == "":
			// RFC 6750 §3.1: no error code when no token was sent.
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="medid", DPoP `+algs)
		default:
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
			def := map[string]any{"type": c.Types}
			if c.Format == "ldp_vc" {
				ctxs := []string{"https://www.w3.org/ns/credentials/v2"}
				if c.ContextURL != "" {
					ctxs = append(ctxs, c.ContextURL)
				}
				def["@context"] = ctxs
			}
			m["credential_definition"] = def
		}
		configs[c.ID] = m
	}
	return map[string]any{
		"credential_issuer":                   base,
		"credential_endpoint":                 base + "/credential",
		"nonce_endpoint":                      base + "/nonce",
		"notification_endpoint":               base + "/notification",
		"deferred_credential_endpoint":        base + "/deferred_credential",
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
		"dpop_signing_alg_values_supported":               dpopAlgs,
	}
}

// bindingMethods says how a format binds the credential to the holder:
// SD-JWT VC through cnf.jwk, jwt_vc_json and ldp_vc through the subject's
// did:jwk.
func bindingMethods(format string) []string {
	if format == "jwt_vc_json" || format == "ldp_vc" {
		return []string{"did:jwk"}
	}
	return []string{"jwk"}
}
