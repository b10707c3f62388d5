package access

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// Route paths.
const (
	PathDecisions = "/verifier/access-decisions"
	PathNonces    = "/verifier/access-decisions/nonces"
)

// DecisionJSON is the 200 answer.
type DecisionJSON struct {
	Decision string     `json:"decision"` // permit or deny
	Reasons  []Reason   `json:"reasons"`
	Audit    *AuditJSON `json:"audit"`
}

// AuditJSON names the decision's access log entry.
type AuditJSON struct {
	ID         string `json:"id"`
	Commitment string `json:"commitment"`
	LeafIndex  uint64 `json:"leaf_index"`
}

// Register adds the access decision routes, both behind admin (a clinic's
// backend):
//
//	POST /verifier/access-decisions         decide (200 {"decision", "reasons", "audit"})
//	POST /verifier/access-decisions/nonces  a nonce for a direct presentation (201)
func (s *Service) Register(g *echo.Group, admin echo.MiddlewareFunc) {
	g.POST(PathDecisions, func(c echo.Context) error {
		body, err := readJSON(c.Request())
		if err != nil {
			return err
		}
		req, err := ParseDecisionRequest(body)
		if err != nil {
			return err
		}
		d, err := s.Decide(c.Request().Context(), req)
		if err != nil {
			return err
		}
		out := DecisionJSON{Decision: "deny", Reasons: d.Reasons,
			Audit: &AuditJSON{ID: d.Audit.ID, Commitment: d.Audit.Commitment, LeafIndex: d.Audit.LeafIndex}}
		if d.Permit {
			out.Decision = "permit"
		}
		if out.Reasons == nil {
			out.Reasons = []Reason{}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}, admin)
	g.POST(PathNonces, func(c echo.Context) error {
		n, err := s.NewNonce(c.Request().Context())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusCreated, n)
	}, admin)
}

// readJSON reads a JSON body of at most httpx.MaxJSONBody bytes.
func readJSON(r *http.Request) ([]byte, error) {
	// DecodeJSON checks the media type and the size; decode into a raw
	// message and parse strictly afterwards.
	var raw rawBody
	if err := httpx.DecodeJSON(r, httpx.MaxJSONBody, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// rawBody keeps the body as it came.
type rawBody []byte

func (b *rawBody) UnmarshalJSON(data []byte) error {
	*b = append((*b)[:0], data...)
	return nil
}
