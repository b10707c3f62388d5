// Package tokenlist implements the Status List of the IETF Token Status List
// (draft-ietf-oauth-status-list) and the Status List Token that carries it
// as a JWT of type statuslist+jwt.
//
// A Status List is a byte array of statuses of 1, 2, 4 or 8 bits each. The
// status at index 0 is in the least significant bits of byte 0, index 1 in
// the next bits up, and so on ("right to left" within a byte, bytes in their
// natural order). In JSON the array travels as "lst": the ZLIB (RFC 1950)
// DEFLATE-compressed bytes, base64url-encoded without padding.
//
// The package is pure: it neither fetches nor stores lists. Decode refuses
// lists that decompress beyond a caller-given number of entries, so a small
// hostile "lst" cannot exhaust memory.
package tokenlist

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
)

// Status values registered by the Token Status List. Values 0x03 and
// 0x0C–0x0F are application specific.
const (
	Valid     uint8 = 0x00 // VALID
	Invalid   uint8 = 0x01 // INVALID: revoked; irreversible
	Suspended uint8 = 0x02 // SUSPENDED: temporarily invalid; reversible
)

// ErrRange is returned for an index outside the list.
var ErrRange = errors.New("tokenlist: index out of range")

// ErrValue is returned by Set for a value that does not fit in the list's
// bits.
var ErrValue = errors.New("tokenlist: status value does not fit in bits")

// ErrTooLarge is returned by Decode when the list would decompress beyond
// its limit.
var ErrTooLarge = errors.New("tokenlist: status list exceeds the size limit")

// ErrMalformed is returned by Decode for a "lst" that is not base64url
// of a well-formed ZLIB stream holding a non-empty list.
var ErrMalformed = errors.New("tokenlist: malformed status list")

// List is a Status List: statuses of Bits bits each. The zero List is
// empty and not useful; use New or Decode. A List is not safe for
// concurrent mutation.
type List struct {
	bits int
	data []byte
}

func checkBits(bits int) error {
	switch bits {
	case 1, 2, 4, 8:
		return nil
	}
	return fmt.Errorf("tokenlist: bits must be 1, 2, 4 or 8, not %d", bits)
}

// maxSize bounds the entries a List may hold so that size*bits never
// overflows.
const maxSize = math.MaxInt32

// New returns a list of at least size statuses of bits bits, all Valid.
// The size is rounded up to fill whole bytes.
func New(bits, size int) (*List, error) {
	if err := checkBits(bits); err != nil {
		return nil, err
	}
	if size <= 0 || size > maxSize {
		return nil, fmt.Errorf("tokenlist: size %d out of range (1..%d)", size, maxSize)
	}
	return &List{bits: bits, data: make([]byte, (size*bits+7)/8)}, nil
}

// FromBytes returns the list whose uncompressed byte array is a copy of
// b.
func FromBytes(bits int, b []byte) (*List, error) {
	if err := checkBits(bits); err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > maxSize/8 {
		return nil, fmt.Errorf("tokenlist: %d bytes out of range (1..%d)", len(b), maxSize/8)
	}
	return &List{bits: bits, data: bytes.Clone(b)}, nil
}

// Bits returns the number of bits per status: 1, 2, 4 or 8.
func (l *List) Bits() int { return l.bits }

// Len returns the number of statuses the list holds.
func (l *List) Len() int {
	if l.bits == 0 {
		return 0
	}
	return len(l.data) * 8 / l.bits
}

// Bytes returns a copy of the uncompressed byte array.
func (l *List) Bytes() []byte { return bytes.Clone(l.data) }

// position returns the byte and the shift of index i, or ErrRange.
func (l *List) position(i int) (int, uint, error) {
	if i < 0 || i >= l.Len() {
		return 0, 0, fmt.Errorf("%w: %d not in [0, %d)", ErrRange, i, l.Len())
	}
	off := i * l.bits
	return off / 8, uint(off % 8), nil
}

// Get returns the status at index i.
func (l *List) Get(i int) (uint8, error) {
	b, shift, err := l.position(i)
	if err != nil {
		return 0, err
	}
	mask := byte(0xFF >> (8 - l.bits))
	return (l.data[b] >> shift) & mask, nil
}

// Set sets the status at index i to v, which must fit in Bits bits.
func (l *List) Set(i int, v uint8) error {
	b, shift, err := l.position(i)
	if err != nil {
		return err
	}
	mask := byte(0xFF >> (8 - l.bits))
	if v&^mask != 0 {
		return fmt.Errorf("%w: %#x with bits=%d", ErrValue, v, l.bits)
	}
	l.data[b] = l.data[b]&^(mask<<shift) | v<<shift
	return nil
}

// Encode returns the list as "lst": base64url (no padding) of the
// ZLIB-compressed byte array, at the highest compression level as the
// draft recommends.
//
// DEFLATE output is not unique: Go's compressor ends the stream with an
// empty stored block, so Encode of the draft's examples decodes to the
// same bytes but differs, as a string, from the draft's "lst" values.
func (l *List) Encode() (string, error) {
	if l.bits == 0 {
		return "", errors.New("tokenlist: encode of an empty List")
	}
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return "", fmt.Errorf("tokenlist: encode: %w", err)
	}
	if _, err := w.Write(l.data); err != nil {
		return "", fmt.Errorf("tokenlist: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("tokenlist: encode: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// Decode parses "lst" as a list of bits-bit statuses. It refuses, with
// ErrTooLarge, a list of more than maxEntries statuses, and stops
// decompressing as soon as that limit is passed. Trailing bytes after the
// ZLIB stream, a bad checksum, padding or an empty list are ErrMalformed.
func Decode(bits int, lst string, maxEntries int) (*List, error) {
	if err := checkBits(bits); err != nil {
		return nil, err
	}
	if maxEntries <= 0 || maxEntries > maxSize {
		return nil, fmt.Errorf("tokenlist: maxEntries %d out of range (1..%d)", maxEntries, maxSize)
	}
	maxBytes := (maxEntries*bits + 7) / 8
	// DEFLATE expands incompressible input by a few bytes per 64 KiB block;
	// anything much longer than the limit cannot decompress within it.
	if base64.RawURLEncoding.DecodedLen(len(lst)) > maxBytes+maxBytes/64+64 {
		return nil, fmt.Errorf("%w: %d characters of lst for at most %d entries", ErrTooLarge, len(lst), maxEntries)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(lst)
	if err != nil {
		return nil, fmt.Errorf("%w: lst is not base64url without padding", ErrMalformed)
	}
	data, err := inflate(raw, maxBytes)
	if err != nil {
		return nil, err
	}
	return &List{bits: bits, data: data}, nil
}

// inflate decompresses one ZLIB stream of at most maxBytes.
func inflate(raw []byte, maxBytes int) ([]byte, error) {
	br := bytes.NewReader(raw)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer zr.Close()
	// io.ReadAll reads to io.EOF, which zlib returns only after the
	// Adler-32 checksum matched.
	data, err := io.ReadAll(io.LimitReader(zr, int64(maxBytes)+1))
	if len(data) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes uncompressed", ErrTooLarge, maxBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// bytes.Reader is a flate.Reader, so zlib consumed exactly the stream.
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the ZLIB stream", ErrMalformed, br.Len())
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrMalformed)
	}
	return data, nil
}
