package registry

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	timeType            = reflect.TypeFor[time.Time]()
)

// paramsPlan binds a JSON object to a function's parameters struct. It is
// computed once, at registration.
type paramsPlan struct {
	typ     reflect.Type // the struct type
	pointer bool         // the argument is a pointer to the struct
	fields  []paramField
	byName  map[string]int
	schema  Schema
}

// paramField is one top-level parameter: an exported field of the
// parameters struct, possibly promoted from an embedded struct.
type paramField struct {
	structField
	required bool
	nullable bool            // JSON null is accepted and leaves the zero value
	expect   string          // JSON type for messages, "" for any
	defJSON  json.RawMessage // default as JSON, nil if none
	defValue reflect.Value   // default to copy as-is; invalid if it must be decoded from defJSON
}

// structField is an exported field of a struct as encoding/json sees it.
type structField struct {
	name      string // JSON name
	goName    string // dotted Go path, for messages
	index     []int  // path through embedded structs
	typ       reflect.Type
	omitempty bool   // json:",omitempty" or json:",omitzero"
	def       string // the default tag
	hasDef    bool
}

// structFields lists the fields encoding/json would decode into a value of
// struct type t, flattening embedded structs without a json name. Two fields
// with the same JSON name are an error rather than resolved by depth.
func structFields(t reflect.Type) ([]structField, error) {
	var fields []structField
	byName := map[string]string{}
	var walk func(t reflect.Type, index []int, prefix string, depth int) error
	walk = func(t reflect.Type, index []int, prefix string, depth int) error {
		if depth > 16 {
			return fmt.Errorf("struct %s: embedding too deep", t)
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			path := append(slices.Clone(index), i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					if f.Type.Kind() == reflect.Pointer && !f.IsExported() {
						return fmt.Errorf("field %s%s: embedded pointer to unexported struct type is not supported", prefix, f.Name)
					}
					if err := walk(ft, path, prefix+f.Name+".", depth+1); err != nil {
						return err
					}
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			sf := structField{name: name, goName: prefix + f.Name, index: path, typ: f.Type}
			for opt := range strings.SplitSeq(opts, ",") {
				switch opt {
				case "omitempty", "omitzero":
					sf.omitempty = true
				case "string":
					return fmt.Errorf("field %s: the json \",string\" option is not supported", sf.goName)
				}
			}
			sf.def, sf.hasDef = f.Tag.Lookup("default")
			if other, dup := byName[name]; dup {
				return fmt.Errorf("fields %s and %s both have the JSON name %q", other, sf.goName, name)
			}
			byName[name] = sf.goName
			fields = append(fields, sf)
		}
		return nil
	}
	if err := walk(t, nil, "", 0); err != nil {
		return nil, err
	}
	return fields, nil
}

// implements reports whether t or *t implements the interface it.
func implements(t, it reflect.Type) bool {
	return t.Implements(it) || reflect.PointerTo(t).Implements(it)
}

// typeSchema describes values of type t as encoding/json decodes them, and
// fails for types it cannot decode into (channels, functions, complex
// numbers, non-empty interfaces, maps with unusable keys).
func typeSchema(t reflect.Type, visiting map[reflect.Type]bool) (Schema, error) {
	switch {
	case t == timeType:
		return Schema{Type: "string", Format: "date-time"}, nil
	case t == rawMessageType || implements(t, jsonUnmarshalerType):
		return Schema{}, nil
	case implements(t, textUnmarshalerType):
		return Schema{Type: "string"}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return Schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return Schema{Type: "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return Schema{Type: "number"}, nil
	case reflect.String:
		return Schema{Type: "string"}, nil
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return Schema{}, nil
		}
	case reflect.Pointer:
		return typeSchema(t.Elem(), visiting)
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && !implements(t.Elem(), jsonUnmarshalerType) && !implements(t.Elem(), textUnmarshalerType) {
			return Schema{Type: "string", Format: "byte"}, nil
		}
		items, err := typeSchema(t.Elem(), visiting)
		if err != nil {
			return Schema{}, err
		}
		return Schema{Type: "array", Items: &items}, nil
	case reflect.Map:
		switch k := t.Key(); {
		case k.Kind() == reflect.String, implements(k, textUnmarshalerType),
			k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr:
		default:
			return Schema{}, fmt.Errorf("unsupported map key type %s", k)
		}
		values, err := typeSchema(t.Elem(), visiting)
		if err != nil {
			return Schema{}, err
		}
		return Schema{Type: "object", Values: &values}, nil
	case reflect.Struct:
		if visiting[t] {
			return Schema{Type: "object"}, nil // recursive type: do not expand again
		}
		visiting[t] = true
		defer delete(visiting, t)
		fields, err := structFields(t)
		if err != nil {
			return Schema{}, fmt.Errorf("%s: %w", t, err)
		}
		s := Schema{Type: "object", Closed: true, Properties: []Property{}}
		for _, f := range fields {
			fs, err := typeSchema(f.typ, visiting)
			if err != nil {
				return Schema{}, fmt.Errorf("field %s: %w", f.goName, err)
			}
			s.Properties = append(s.Properties, Property{Name: f.name, Schema: fs})
		}
		return s, nil
	}
	return Schema{}, fmt.Errorf("unsupported type %s", t)
}

// jsonType names the JSON type expected for a Go type, "" when any value may do.
func jsonType(t reflect.Type) string {
	s, err := typeSchema(t, map[reflect.Type]bool{})
	if err != nil {
		return ""
	}
	return s.Type
}

// acceptsNull reports whether JSON null is a meaningful value for t.
func acceptsNull(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return true
	}
	return implements(t, jsonUnmarshalerType)
}

// copyable reports whether a decoded value of kind k can be reused for every
// call without sharing memory.
func copyable(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// asParams builds the binding plan for an argument of type t, which must be
// a struct or a pointer to a struct.
func asParams(t reflect.Type) (*paramsPlan, error) {
	p := &paramsPlan{typ: t}
	if t.Kind() == reflect.Pointer {
		p.typ, p.pointer = t.Elem(), true
	}
	if p.typ.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct", t)
	}
	if p.typ == timeType || implements(p.typ, jsonUnmarshalerType) || implements(p.typ, textUnmarshalerType) {
		return nil, fmt.Errorf("%s decodes itself from JSON and cannot be a parameters struct", t)
	}
	fields, err := structFields(p.typ)
	if err != nil {
		return nil, err
	}
	p.byName = make(map[string]int, len(fields))
	p.schema = Schema{Type: "object", Closed: true, Properties: []Property{}, Required: []string{}}
	for i, f := range fields {
		fs, err := typeSchema(f.typ, map[reflect.Type]bool{p.typ: true})
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.goName, err)
		}
		pf := paramField{
			structField: f,
			required:    !f.hasDef && !f.omitempty,
			nullable:    acceptsNull(f.typ),
			expect:      fs.Type,
		}
		switch {
		case f.hasDef:
			if err := pf.parseDefault(fs.Type); err != nil {
				return nil, err
			}
			fs.Default = pf.defJSON
		case f.omitempty:
			zero, err := json.Marshal(reflect.Zero(f.typ).Interface())
			if err == nil {
				fs.Default = zero
			}
		default:
			p.schema.Required = append(p.schema.Required, f.name)
		}
		p.fields = append(p.fields, pf)
		p.byName[f.name] = i
		p.schema.Properties = append(p.schema.Properties, Property{Name: f.name, Schema: fs})
	}
	return p, nil
}

// parseDefault decodes the default tag into the field's type. For fields
// whose JSON type is string the tag is the text itself (default:"hello");
// for every other field it is a JSON value (default:"2", default:"[1,2]").
func (f *paramField) parseDefault(schemaType string) error {
	raw := []byte(f.def)
	if schemaType == "string" {
		raw, _ = json.Marshal(f.def)
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) && !f.nullable {
		return fmt.Errorf("field %s: bad default %q: null is not a valid %s", f.goName, f.def, f.typ)
	}
	v := reflect.New(f.typ)
	if err := decodeStrict(raw, v.Interface()); err != nil {
		return fmt.Errorf("field %s: bad default %q for type %s: %s", f.goName, f.def, f.typ, strings.TrimPrefix(err.Error(), "json: "))
	}
	canonical, err := json.Marshal(v.Elem().Interface())
	if err != nil {
		return fmt.Errorf("field %s: bad default %q: %w", f.goName, f.def, err)
	}
	f.defJSON = canonical
	if copyable(f.typ.Kind()) {
		f.defValue = v.Elem()
	}
	return nil
}

// decodeStrict decodes one JSON value into dst, refusing unknown struct
// fields and trailing data.
func decodeStrict(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the value")
	}
	return nil
}

// decodeObject reads the parameters document: nothing, null or an object.
func decodeObject(params json.RawMessage) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(params)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	if !json.Valid(trimmed) {
		var obj map[string]json.RawMessage
		err := json.Unmarshal(trimmed, &obj)
		return nil, fmt.Errorf("parameters are not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("parameters must be a JSON object, got %s", rawKind(trimmed))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, fmt.Errorf("parameters are not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return obj, nil
}

// rawKind names the JSON type of a valid JSON value.
func rawKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// checkNames reports, in chapkit's words, the first parameter the function
// does not take (Python's TypeError for an unexpected keyword argument, the
// names sorted) or else the first required parameter that is absent
// (chapkit's ValueError, in declaration order). p is nil for a function
// without parameters.
func checkNames(f *function, obj map[string]json.RawMessage, p *paramsPlan) error {
	var unknown []string
	for name := range obj {
		if p == nil {
			unknown = append(unknown, name)
		} else if _, ok := p.byName[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return newError(f.name, f.goName, TypeError, fmt.Sprintf("%s() got an unexpected keyword argument '%s'", f.name, unknown[0]))
	}
	if p == nil {
		return nil
	}
	for _, field := range p.fields {
		if _, ok := obj[field.name]; field.required && !ok {
			return newError(f.name, f.goName, ValueError, fmt.Sprintf(
				"Missing required parameter '%s' for task function. Parameter is not injectable and not provided in task.parameters.", field.name))
		}
	}
	return nil
}

// bind decodes the parameters document into a new value of the argument
// type. Every error it returns is a TypeError message.
func (p *paramsPlan) bind(obj map[string]json.RawMessage) (reflect.Value, error) {
	ptr := reflect.New(p.typ)
	v := ptr.Elem()
	for _, f := range p.fields {
		raw, ok := obj[f.name]
		if !ok && !f.hasDef {
			continue // optional without default: zero value
		}
		dst := fieldByIndex(v, f.index)
		if !ok {
			if f.defValue.IsValid() {
				dst.Set(f.defValue)
			} else if err := json.Unmarshal(f.defJSON, dst.Addr().Interface()); err != nil {
				return reflect.Value{}, fmt.Errorf("parameter '%s': default: %v", f.name, err)
			}
			continue
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) && !f.nullable {
			return reflect.Value{}, fmt.Errorf("parameter '%s' must be %s, got null", f.name, orAny(f.expect))
		}
		if err := decodeStrict(raw, dst.Addr().Interface()); err != nil {
			return reflect.Value{}, bindError(f.name, err)
		}
	}
	if p.pointer {
		return ptr, nil
	}
	return v, nil
}

func orAny(t string) string {
	if t == "" {
		return "a JSON value"
	}
	return t
}

// fieldByIndex is reflect.Value.FieldByIndex allocating nil embedded pointers.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// bindError turns a decoding error for parameter name into a message.
func bindError(name string, err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		path := name
		if te.Field != "" {
			path = name + "." + te.Field
		}
		got, literal, _ := strings.Cut(te.Value, " ")
		if got == "bool" {
			got = "boolean"
		}
		want := ""
		if te.Type != nil {
			want = jsonType(te.Type)
		}
		if got == "number" && literal != "" && (want == "integer" || want == "number") {
			if want == "number" || !strings.ContainsAny(literal, ".eE") {
				return fmt.Errorf("parameter '%s' is out of range for %s: %s", path, te.Type, literal)
			}
			return fmt.Errorf("parameter '%s' must be integer, got number %s", path, literal)
		}
		return fmt.Errorf("parameter '%s' must be %s, got %s", path, orAny(want), got)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if rest, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if field, uerr := strconv.Unquote(rest); uerr == nil {
			return fmt.Errorf("parameter '%s' has unknown field '%s'", name, field)
		}
	}
	return fmt.Errorf("parameter '%s': %s", name, msg)
}
