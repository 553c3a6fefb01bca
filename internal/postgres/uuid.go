package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterTypes changes how the connection sends query parameters; run it
// on every new connection (pgxpool.Config.AfterConnect).
//
// The service keeps its ids (tenants, events) as UUID strings. pgx sends a
// uuid parameter in binary, which it cannot do from a Go string: for every
// such parameter it built an error, then sent the value as text instead.
// On the write path that was a fifth of the CPU a group commit spends
// encoding, and it is serial. Strings in the canonical form are now sent in
// binary; any other string still goes as text, so PostgreSQL parses (or
// refuses) exactly what it did before.
func RegisterTypes(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	elem := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(elem)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: elem}})
	return nil
}

// uuidCodec is pgx's uuid codec that also encodes canonical UUID strings
// in binary.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(string); ok && format == pgtype.BinaryFormatCode {
		return uuidStringBinary{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

type uuidStringBinary struct{}

// errNotCanonicalUUID makes pgx send the value as text instead.
var errNotCanonicalUUID = errors.New("not a canonical UUID string")

func (uuidStringBinary) Encode(value any, buf []byte) ([]byte, error) {
	s := value.(string)
	if len(s) != 36 { // uuid.Parse also reads other forms; those stay text
		return nil, errNotCanonicalUUID
	}
	b, err := uuid.Parse(s)
	if err != nil {
		return nil, errNotCanonicalUUID
	}
	return append(buf, b[:]...), nil
}
