package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxJSONBody bounds JSON request bodies unless a route says otherwise.
const MaxJSONBody = 64 << 10

// DecodeJSON decodes one JSON object from r's body into v, strictly: the
// media type must be JSON, unknown members are refused, the body must hold
// exactly one value and at most limit bytes. Errors are *Error naming the
// offending field where the decoder can tell.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &Error{Status: http.StatusUnsupportedMediaType, Kind: "unsupported-media-type",
			Detail: "request body must be application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return BadRequest("", "could not read request body")
	}
	if int64(len(body)) > limit {
		return &Error{Status: http.StatusRequestEntityTooLarge, Kind: "too-large",
			Detail: fmt.Sprintf("request body exceeds %d bytes", limit)}
	}
	return DecodeJSONBytes(body, v)
}

// DecodeJSONBytes is DecodeJSON's strict decoding of an in-memory body.
func DecodeJSONBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return BadRequest("", "request body must contain a single JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return BadRequest("", "request body must contain a single JSON value")
	}
	return nil
}

func jsonError(err error) *Error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return BadRequest(te.Field, fmt.Sprintf("%s: expected %s, got JSON %s", te.Field, te.Type, te.Value))
	case errors.As(err, &se):
		return BadRequest("", fmt.Sprintf("malformed JSON at byte %d", se.Offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("", "request body is empty or truncated")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return BadRequest(f, fmt.Sprintf("unknown member %q", f))
	default:
		return BadRequest("", "malformed JSON: "+err.Error())
	}
}
