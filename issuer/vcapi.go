package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
)

// VCAPI is the W3C VC-API issuing endpoint (POST /credentials/issue), for
// server-to-server issuance of VC Data Model 2.0 credentials.
type VCAPI struct {
	Keys KeySource
	// ValidateSubject checks the credentialSubject claims of a known
	// credential type (by the credential's type); nil accepts any.
	ValidateSubject func(types []string, subject map[string]any) error
	// VCT maps a credential type name to its SD-JWT VC type.
	VCT func(typ string) (string, bool)
	Now func() time.Time
}

// IssueRequest is the VC-API issue request.
type IssueRequest struct {
	Credential map[string]any `json:"credential"`
	Options    struct {
		Format      string `json:"format,omitempty"`
		Cryptosuite string `json:"cryptosuite,omitempty"`
	} `json:"options"`
}

const vcV2Context = "https://www.w3.org/ns/credentials/v2"

// Issue secures a credential in the requested format.
func (v *VCAPI) Issue(ctx context.Context, req *IssueRequest) (any, error) {
	c := req.Credential
	if c == nil {
		return nil, httpx.BadRequest("credential", "credential is required")
	}
	ctxs, _ := c["@context"].([]any)
	if len(ctxs) == 0 || ctxs[0] != vcV2Context {
		return nil, httpx.BadRequest("credential.@context", "must be an array starting with "+vcV2Context)
	}
	types := stringsOf(c["type"])
	if !slices.Contains(types, "VerifiableCredential") {
		return nil, httpx.BadRequest("credential.type", "must include VerifiableCredential")
	}
	subject, ok := c["credentialSubject"].(map[string]any)
	if !ok {
		return nil, httpx.BadRequest("credential.credentialSubject", "must be an object")
	}
	if _, ok := c["proof"]; ok {
		return nil, httpx.BadRequest("credential.proof", "the credential to issue must not carry a proof")
	}
	k, err := v.Keys(ctx, keys.ES256)
	if err != nil {
		return nil, err
	}
	switch iss := c["issuer"].(type) {
	case nil:
	case string:
		if iss != k.DID {
			return nil, httpx.Unprocessable("unknown-issuer", "credential.issuer", fmt.Sprintf("this server holds no keys for %s; omit issuer to use %s", iss, k.DID))
		}
	default:
		return nil, httpx.BadRequest("credential.issuer", "must be a DID string")
	}
	if v.ValidateSubject != nil {
		claims := map[string]any{}
		for n, val := range subject {
			if n != "id" {
				claims[n] = val
			}
		}
		if err := v.ValidateSubject(types, claims); err != nil {
			var ce *ClaimsError
			if errors.As(err, &ce) {
				field := "credential.credentialSubject"
				if ce.Field != "" {
					field += "." + ce.Field
				}
				return nil, httpx.Unprocessable("invalid-claims", field, err.Error())
			}
			return nil, err
		}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC().Truncate(time.Second)
	id, _ := c["id"].(string)
	if id == "" {
		id = "urn:uuid:" + uuid.NewString()
	}
	o := jwtvc.IssueOptions{Issuer: k.DID, KID: k.KID, Key: k.Key, IssuedAt: t, ValidFrom: t, ID: id}
	if s, ok := c["validUntil"].(string); ok {
		if o.ValidUntil, err = time.Parse(time.RFC3339, s); err != nil {
			return nil, httpx.BadRequest("credential.validUntil", "must be an RFC 3339 date-time")
		}
	}
	switch req.Options.Format {
	case "vc+jwt":
		return jwtvc.IssueVCJWT(c, o)
	case "jwt_vc_json":
		v1 := copyMap(c)
		v1["@context"] = append([]any{"https://www.w3.org/2018/credentials/v1"}, ctxs[1:]...)
		delete(v1, "validUntil")
		return jwtvc.IssueJWTVCJSON(v1, o)
	case "dc+sd-jwt":
		var vct string
		for _, typ := range types {
			if s, ok := v.VCT(typ); ok {
				vct = s
			}
		}
		if vct == "" {
			return nil, httpx.Unprocessable("unsupported-type", "credential.type", "dc+sd-jwt needs a credential type with an SD-JWT VC type (vct)")
		}
		claims := copyMap(subject)
		if sid, ok := claims["id"].(string); ok {
			delete(claims, "id")
			claims["sub"] = sid
		}
		issued, err := sdjwt.IssueVC(sdjwt.VCClaims{VCT: vct, Issuer: k.DID, IssuedAt: t, Expires: o.ValidUntil, Claims: claims},
			sdjwt.Policy{}, sdjwt.IssueOptions{Key: k.Key, KeyID: k.KID})
		if err != nil {
			return nil, err
		}
		return issued.Compact(), nil
	case "", "ldp_vc":
		return nil, &httpx.Error{Status: http.StatusNotImplemented, Kind: "unsupported-format", Field: "options.format",
			Detail: "Data Integrity proofs (ldp_vc, eddsa-rdfc-2022) are not implemented yet; ask for vc+jwt, jwt_vc_json or dc+sd-jwt"}
	default:
		return nil, httpx.BadRequest("options.format", "unknown format; one of vc+jwt, jwt_vc_json, dc+sd-jwt, ldp_vc")
	}
}

// Register adds POST /credentials/issue behind admin.
func (v *VCAPI) Register(e *echo.Group, admin echo.MiddlewareFunc) {
	e.POST("/credentials/issue", func(c echo.Context) error {
		var req IssueRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		vc, err := v.Issue(c.Request().Context(), &req)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, map[string]any{"verifiableCredential": vc})
	}, admin)
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
