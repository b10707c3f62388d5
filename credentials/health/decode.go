package health

import (
	"encoding"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxArray bounds the length of any array claim, so that a hostile claim
// set cannot make validation do unbounded work.
const maxArray = 256

var (
	timeType          = reflect.TypeFor[time.Time]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
	// rfc3339 is the RFC 3339 date-time grammar (upper-case T and Z);
	// time.Parse checks the ranges.
	rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$`)
)

// decodeStrict fills the struct that dst points to from v, a JSON value as
// encoding/json decodes it into an any (map[string]any, []any, string,
// float64, bool, nil). It refuses members the struct does not define,
// values of the wrong JSON type, nulls and empty strings, and reports each problem with
// its JSON path. Values that are TextUnmarshalers (DIDs, scopes, dates) are
// parsed here; time.Time must be an RFC 3339 date-time.
func decodeStrict(c *collector, path string, v any, dst reflect.Value) {
	t := dst.Type()
	if v == nil {
		c.add(orRoot(path), "null is not allowed (omit an optional claim instead)")
		return
	}
	if v == "" {
		// Every string claim here is either required or omitted when
		// empty, so an empty string is always a mistake.
		c.add(path, "empty string (omit an optional claim instead)")
		return
	}
	switch {
	case t == timeType:
		s, ok := v.(string)
		if !ok {
			c.add(path, "must be a string (an RFC 3339 date-time)")
			return
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !rfc3339.MatchString(s) {
			c.add(path, "not an RFC 3339 date-time")
			return
		}
		dst.Set(reflect.ValueOf(tm))
		return
	case reflect.PointerTo(t).Implements(textUnmarshalType):
		s, ok := v.(string)
		if !ok {
			c.add(path, "must be a string")
			return
		}
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			c.add(path, err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			c.add(path, "must be a string")
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			c.add(path, "must be a boolean")
			return
		}
		dst.SetBool(b)
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			c.add(path, "must be an array")
			return
		}
		if len(a) > maxArray {
			c.add(path, "more than 256 elements")
			return
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, e := range a {
			decodeStrict(c, index(path, i), e, s.Index(i))
		}
		dst.Set(s)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		decodeStrict(c, path, v, p.Elem())
		dst.Set(p)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.add(orRoot(path), "must be an object")
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			i, ok := fields[k]
			if !ok {
				what := "unknown member"
				if path == "" {
					what = "unknown claim"
				}
				c.add(joinKey(path, k), what+" (not defined by this credential type)")
				continue
			}
			decodeStrict(c, join(path, k), m[k], dst.Field(i))
		}
	default:
		// Not reached for the credential types of this package.
		c.add(orRoot(path), "cannot be decoded")
	}
}

func orRoot(path string) string {
	if path == "" {
		return "(claims)"
	}
	return path
}

// fieldCache holds jsonFieldsOf per struct type: decoding runs on every
// issuance and verification.
var fieldCache sync.Map // reflect.Type → map[string]int

// jsonFields maps the JSON member names of struct type t to field indexes.
// The map is shared: callers must not change it.
func jsonFields(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m, _ := fieldCache.LoadOrStore(t, jsonFieldsOf(t))
	return m.(map[string]int)
}

func jsonFieldsOf(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = i
	}
	return out
}
