package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseJSON decodes one JSON document into a tree of map[string]any, []any,
// string, json.Number, bool and nil. Numbers stay json.Number so that
// integers beyond 2^53 and the exact spelling of decimals survive a round
// trip. The tree is built token by token so that the value count and depth
// limits apply before memory is spent, not after.
func parseJSON(data []byte) (any, error) {
	if len(data) > MaxJSONBytes {
		return nil, errf("", "card JSON is %d bytes; the limit is %d", len(data), MaxJSONBytes)
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &treeParser{dec: dec, data: data}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, p.syntax(errors.New("more data after the JSON value"))
	}
	return v, nil
}

type treeParser struct {
	dec    *json.Decoder
	data   []byte
	values int
}

func (p *treeParser) value(depth int) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	p.values++
	if p.values > MaxJSONValues {
		return nil, errf("", "card JSON has more than %d values", MaxJSONValues)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= MaxJSONDepth {
		return nil, errf("", "card JSON nests deeper than %d levels", MaxJSONDepth)
	}
	switch d {
	case '{':
		m := map[string]any{}
		for p.dec.More() {
			kt, err := p.dec.Token()
			if err != nil {
				return nil, p.syntax(err)
			}
			key, _ := kt.(string) // the decoder only yields strings in key position
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.syntax(err)
		}
		return m, nil
	case '[':
		a := []any{}
		for p.dec.More() {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.syntax(err)
		}
		return a, nil
	}
	return nil, p.syntax(fmt.Errorf("unexpected %q", rune(d)))
}

// syntax turns a decoder error into an *Error with a line and column.
func (p *treeParser) syntax(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errf("", "malformed JSON: it ends too early (truncated file?)")
	}
	off := p.dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if off > int64(len(p.data)) {
		off = int64(len(p.data))
	}
	before := p.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return errf("", "malformed JSON at line %d, column %d: %s", line, col,
		strings.TrimPrefix(err.Error(), "json: "))
}

// kindOf names a tree value's JSON type for error messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// describe shows a short scalar value, or its kind, for error messages.
func describe(v any) string {
	switch t := v.(type) {
	case string:
		if len(t) > 40 {
			t = t[:40] + "..."
		}
		return fmt.Sprintf("%q", t)
	case json.Number:
		return string(t)
	}
	return kindOf(v)
}
