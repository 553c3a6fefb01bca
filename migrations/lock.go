package migrations

import (
	"io/fs"

	"github.com/pressly/goose/v3/lock"
)

func newLocker() (lock.SessionLocker, error) {
	return lock.NewPostgresSessionLocker()
}

func mustSub() fs.FS {
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
