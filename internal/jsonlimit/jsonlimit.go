// Package jsonlimit bounds what a JSON document may ask of its decoder
// before the decoder allocates anything: how deeply values nest and how
// many values there are. A body's byte limit alone is not enough: sixteen
// megabytes of "[{},{},…]" decode into millions of maps, tens of times the
// body's size in memory.
package jsonlimit

import "fmt"

// Limits caps one JSON document. A zero field means no limit of that kind.
type Limits struct {
	// MaxDepth caps nesting: 1 is a scalar, or an array or object holding
	// only scalars.
	MaxDepth int
	// MaxValues caps the number of values, counting every object, array,
	// string, number, literal and object key.
	MaxValues int
}

// Default is what Maopao allows in a request body or frame unless a caller
// says otherwise: far more than any character card or world holds (a card
// with a 2,000-entry lorebook has about 60,000 values), and little enough
// that decoding the worst case costs a few times the body's bytes.
var Default = Limits{MaxDepth: 64, MaxValues: 200_000}

// Error says which limit a document broke and where.
type Error struct {
	Offset int64  // the byte where the limit was passed
	What   string // "nests" (MaxDepth) or "holds" (MaxValues)
	Limit  int
}

func (e *Error) Error() string {
	if e.What == "nests" {
		return fmt.Sprintf("JSON nests more than %d levels deep (at byte %d)", e.Limit, e.Offset)
	}
	return fmt.Sprintf("JSON holds more than %d values (at byte %d)", e.Limit, e.Offset)
}

// Check scans data and returns an *Error when it breaks l. It does not
// validate the JSON (the decoder that follows does), and it allocates
// nothing unless it fails.
func (l Limits) Check(data []byte) error {
	depth, values := 0, 0
	count := func(i int) error {
		values++
		if l.MaxValues > 0 && values > l.MaxValues {
			return &Error{Offset: int64(i), What: "holds", Limit: l.MaxValues}
		}
		return nil
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case ' ', '\t', '\r', '\n', ',', ':':
		case '{', '[':
			if err := count(i); err != nil {
				return err
			}
			depth++
			if l.MaxDepth > 0 && depth > l.MaxDepth {
				return &Error{Offset: int64(i), What: "nests", Limit: l.MaxDepth}
			}
		case '}', ']':
			depth--
		case '"':
			if err := count(i); err != nil {
				return err
			}
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		default:
			// A number or literal: one value, up to the next delimiter.
			if err := count(i); err != nil {
				return err
			}
			for i+1 < len(data) && !delimiter(data[i+1]) {
				i++
			}
		}
	}
	return nil
}

func delimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}
