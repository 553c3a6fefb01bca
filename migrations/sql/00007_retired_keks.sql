-- +goose Up
-- Key-encryption keys an operator retired with `keys retire ID`: no live
-- data key was wrapped by the key then, so it (and every backup holding data
-- keys it wrapped) may be destroyed. The service refuses to wrap new data
-- keys with a retired key.
CREATE TABLE retired_keks (
    kek_id     text PRIMARY KEY,
    retired_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE retired_keks;
