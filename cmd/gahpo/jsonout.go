package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/gahpo/gahpo"
)

// writeJSON writes v, the answer of a query or of status, as JSON (indented
// by indent, "" for one line) with every figure that is not a number as
// null: a failed genome's fitness (+Inf), an epoch's test loss that was not
// measured (NaN). The history keeps them as the strings "+Inf" and "NaN"
// (gahpo.Float), which it reads back; to a JSON consumer a string there is
// no number, and JSON has no such numbers. Only gahpo.Float values become
// null: a string that reads "NaN" elsewhere (a log line) stays.
func writeJSON(w io.Writer, v any, indent string) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("gahpo: json: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out bytes.Buffer
	if err := nullFloats(dec, reflect.TypeOf(v), &out); err != nil {
		return fmt.Errorf("gahpo: json: %w", err)
	}
	if indent != "" {
		var ind bytes.Buffer
		if err := json.Indent(&ind, out.Bytes(), "", indent); err != nil {
			return fmt.Errorf("gahpo: json: %w", err)
		}
		out = ind
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

var floatType = reflect.TypeFor[gahpo.Float]()

// nullFloats copies the next JSON value of dec to out, typed t (nil: not
// known), with a gahpo.Float's string (NaN, ±Inf) as null.
func nullFloats(dec *json.Decoder, t reflect.Type, out *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	t = deref(t)
	switch tok := tok.(type) {
	case json.Delim:
		end := byte(']')
		if tok == '{' {
			end = '}'
		}
		out.WriteByte(byte(tok))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			elem := elemType(t)
			if tok == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := key.(string)
				b, _ := json.Marshal(k)
				out.Write(b)
				out.WriteByte(':')
				elem = memberType(t, k)
			}
			if err := nullFloats(dec, elem, out); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		out.WriteByte(end)
	case string:
		if t == floatType {
			out.WriteString("null")
			return nil
		}
		b, _ := json.Marshal(tok)
		out.Write(b)
	case json.Number:
		out.WriteString(tok.String())
	case bool:
		fmt.Fprint(out, tok)
	case nil:
		out.WriteString("null")
	}
	return nil
}

// deref is t without its pointers (nil stays nil).
func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// elemType is the type of the elements of a slice, an array or a map t.
func elemType(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return t.Elem()
	}
	return nil
}

// memberType is the type of member key of an object of type t: a struct's
// field by its JSON name (those of embedded structs after its own, as
// encoding/json promotes them), a map's values.
func memberType(t reflect.Type, key string) reflect.Type {
	if t == nil {
		return nil
	}
	if t.Kind() == reflect.Map {
		return t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && f.Tag.Get("json") == "-" {
			continue
		}
		if f.Anonymous && name == "" && deref(f.Type).Kind() == reflect.Struct {
			embedded = append(embedded, deref(f.Type))
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type
		}
	}
	for _, e := range embedded {
		if ft := memberType(e, key); ft != nil {
			return ft
		}
	}
	return nil
}
