package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/maopao/maopao/internal/jsonlimit"
)

// parseJSON decodes one JSON document into a tree of map[string]any, []any,
// string, json.Number, bool and nil. Numbers stay json.Number so that
// integers beyond 2^53 and the exact spelling of decimals survive a round
// trip. A cheap scan checks the value count and depth limits first, so that
// memory is spent only on documents of a sane shape.
func parseJSON(data []byte) (any, error) {
	if len(data) > MaxJSONBytes {
		return nil, errf("", "card JSON is %d bytes; the limit is %d", len(data), MaxJSONBytes)
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if err := scanShape(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &treeParser{dec: dec, data: data}
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, p.syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, p.syntax(errors.New("more data after the JSON value"))
	}
	return v, nil
}

// scanShape checks the value count and nesting without allocating; the
// decoder checks the syntax afterwards.
func scanShape(data []byte) error {
	var le *jsonlimit.Error
	if err := (jsonlimit.Limits{MaxDepth: MaxJSONDepth, MaxValues: MaxJSONValues}).Check(data); errors.As(err, &le) {
		if le.What == "nests" {
			return errf("", "card JSON nests deeper than %d levels", MaxJSONDepth)
		}
		return errf("", "card JSON has more than %d values", MaxJSONValues)
	}
	return nil
}

type treeParser struct {
	dec  *json.Decoder
	data []byte
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
