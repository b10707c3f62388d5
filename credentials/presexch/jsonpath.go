package presexch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/medid/medid/credentials/dcql"
)

// ParseJSONPath translates the simple JSONPath expressions presentation
// definitions use into a claims path pointer: "$" followed by member
// names (.name or ['name'] / ["name"]), array indexes ([0]) and wildcards
// ([*]). Recursive descent, filters, slices, unions and .* are refused.
func ParseJSONPath(s string) (dcql.Path, error) {
	if len(s) > 1024 {
		return nil, errors.New("JSONPath longer than 1024 bytes")
	}
	if len(s) < 2 || s[0] != '$' {
		return nil, errors.New(`JSONPath must start with "$" and select a member`)
	}
	var p dcql.Path
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			j := i
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("JSONPath: expected a member name at offset %d (recursive descent and .* are not supported)", i)
			}
			p = append(p, s[i:j])
			i = j
		case '[':
			i++
			if i >= len(s) {
				return nil, errors.New("JSONPath: unterminated [")
			}
			switch c := s[i]; {
			case c == '*':
				if i+1 >= len(s) || s[i+1] != ']' {
					return nil, errors.New("JSONPath: expected ] after *")
				}
				p = append(p, nil)
				i += 2
			case c == '\'' || c == '"':
				j := i + 1
				for j < len(s) && s[j] != c {
					if s[j] == '\\' {
						return nil, errors.New("JSONPath: escapes in quoted names are not supported")
					}
					j++
				}
				if j+1 >= len(s) || s[j+1] != ']' {
					return nil, errors.New("JSONPath: unterminated quoted name")
				}
				if j == i+1 {
					return nil, errors.New("JSONPath: empty member name")
				}
				p = append(p, s[i+1:j])
				i = j + 2
			case '0' <= c && c <= '9':
				j := i
				for j < len(s) && '0' <= s[j] && s[j] <= '9' {
					j++
				}
				if j >= len(s) || s[j] != ']' || (j-i > 1 && s[i] == '0') {
					return nil, errors.New("JSONPath: only [n], [*] and ['name'] subscripts are supported")
				}
				n, err := strconv.Atoi(s[i:j])
				if err != nil || n > 1<<30 {
					return nil, errors.New("JSONPath: index out of range")
				}
				p = append(p, n)
				i = j + 1
			default:
				return nil, errors.New("JSONPath: only [n], [*] and ['name'] subscripts are supported (no filters, slices or unions)")
			}
		default:
			return nil, fmt.Errorf("JSONPath: unexpected character at offset %d", i)
		}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '@' || c == '$'
}

// strictDecode decodes data into v with json.Number and refuses
// duplicate member names and trailing data, by first walking it token by
// token.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walk(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

func walk(dec *json.Decoder, depth int) error {
	if depth > 32 {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			ks, _ := k.(string)
			if seen[ks] {
				return errors.New("duplicate member name")
			}
			seen[ks] = true
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
