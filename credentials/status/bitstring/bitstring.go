// Package bitstring implements the W3C Bitstring Status List v1.0: a
// bitstring of one status bit per credential, GZIP-compressed and
// multibase-encoded (base64url without padding, prefix 'u') as the
// "encodedList" of a BitstringStatusListCredential.
//
// Bit order is the opposite of the IETF Token Status List: the spec puts
// index 0 at the left-most bit of the bitstring, that is the MOST
// significant bit of byte 0; index 7 is the least significant bit of byte
// 0, index 8 the most significant bit of byte 1.
//
// Only a status size of 1 is supported, as the spec allows. The package is
// pure: it builds the unsigned credential and leaves securing it (JOSE or
// Data Integrity) to its caller.
package bitstring

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// MinEntries is the spec's minimum list length: 131,072 bits (16 KiB).
const MinEntries = 131072

// ErrRange is returned for an index outside the list.
var ErrRange = errors.New("bitstring: index out of range")

// ErrTooLarge is returned by Decode when the list would decompress beyond
// maxBits.
var ErrTooLarge = errors.New("bitstring: status list exceeds the size limit")

// ErrTooSmall is returned by Decode for a list shorter than minBits; the
// spec calls it STATUS_LIST_LENGTH_ERROR.
var ErrTooSmall = errors.New("bitstring: status list is shorter than the minimum")

// ErrMalformed is returned by Decode for an encodedList that is not
// multibase base64url of one well-formed GZIP member; the spec calls it
// MALFORMED_VALUE_ERROR.
var ErrMalformed = errors.New("bitstring: malformed encodedList")

// maxBytes bounds a List so that its bit count fits an int32.
const maxBytes = math.MaxInt32 / 8

// List is a bitstring status list. A List is not safe for concurrent
// mutation.
type List struct {
	data []byte
}

// New returns a list of at least size bits, all zero. The size is rounded
// up to a whole byte. New does not enforce MinEntries; publish lists of at
// least that size.
func New(size int) (*List, error) {
	if size <= 0 || size > maxBytes*8 {
		return nil, fmt.Errorf("bitstring: size %d out of range (1..%d)", size, maxBytes*8)
	}
	return &List{data: make([]byte, (size+7)/8)}, nil
}

// FromBytes returns the list whose uncompressed bitstring is a copy of b.
func FromBytes(b []byte) (*List, error) {
	if len(b) == 0 || len(b) > maxBytes {
		return nil, fmt.Errorf("bitstring: %d bytes out of range (1..%d)", len(b), maxBytes)
	}
	return &List{data: bytes.Clone(b)}, nil
}

// Len returns the number of bits.
func (l *List) Len() int { return len(l.data) * 8 }

// Bytes returns a copy of the uncompressed bitstring.
func (l *List) Bytes() []byte { return bytes.Clone(l.data) }

func (l *List) position(i int) (int, byte, error) {
	if i < 0 || i >= l.Len() {
		return 0, 0, fmt.Errorf("%w: %d not in [0, %d)", ErrRange, i, l.Len())
	}
	return i / 8, 0x80 >> (i % 8), nil
}

// Get reports whether the bit at index i is set.
func (l *List) Get(i int) (bool, error) {
	b, mask, err := l.position(i)
	if err != nil {
		return false, err
	}
	return l.data[b]&mask != 0, nil
}

// Set sets or clears the bit at index i.
func (l *List) Set(i int, v bool) error {
	b, mask, err := l.position(i)
	if err != nil {
		return err
	}
	if v {
		l.data[b] |= mask
	} else {
		l.data[b] &^= mask
	}
	return nil
}

// Encode returns the list as an encodedList: 'u' followed by base64url
// (no padding) of the GZIP-compressed bitstring.
func (l *List) Encode() (string, error) {
	if len(l.data) == 0 {
		return "", errors.New("bitstring: encode of an empty List")
	}
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", fmt.Errorf("bitstring: encode: %w", err)
	}
	if _, err := w.Write(l.data); err != nil {
		return "", fmt.Errorf("bitstring: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("bitstring: encode: %w", err)
	}
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// Decode parses an encodedList. The bitstring must hold at least minBits
// bits (ErrTooSmall; pass MinEntries unless an ecosystem sets another
// bound) and at most maxBits (ErrTooLarge, refused as soon as
// decompression passes the limit). Anything but one GZIP member with a
// valid checksum, in unpadded base64url after a 'u', is ErrMalformed.
func Decode(encodedList string, minBits, maxBits int) (*List, error) {
	if maxBits <= 0 || maxBits > maxBytes*8 || minBits > maxBits {
		return nil, fmt.Errorf("bitstring: bounds [%d, %d] out of range", minBits, maxBits)
	}
	limit := (maxBits + 7) / 8
	b64, ok := strings.CutPrefix(encodedList, "u")
	if !ok {
		return nil, fmt.Errorf("%w: encodedList must start with multibase prefix 'u'", ErrMalformed)
	}
	// GZIP adds a few bytes per 64 KiB of incompressible input and an
	// 18-byte frame; anything much longer cannot decompress within limit.
	if base64.RawURLEncoding.DecodedLen(len(b64)) > limit+limit/64+1024 {
		return nil, fmt.Errorf("%w: %d characters for at most %d bits", ErrTooLarge, len(encodedList), maxBits)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url without padding", ErrMalformed)
	}
	br := bytes.NewReader(raw)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer zr.Close()
	zr.Multistream(false)
	// io.ReadAll reads to io.EOF, which gzip returns only after the CRC-32
	// and length matched.
	data, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if len(data) > limit {
		return nil, fmt.Errorf("%w: more than %d bits", ErrTooLarge, maxBits)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// bytes.Reader is a flate.Reader, so gzip consumed exactly one member.
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the GZIP member", ErrMalformed, br.Len())
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty bitstring", ErrMalformed)
	}
	if len(data)*8 < minBits {
		return nil, fmt.Errorf("%w: %d bits, at least %d required", ErrTooSmall, len(data)*8, minBits)
	}
	return &List{data: data}, nil
}
