-- Each entry's persons in its own row, packed (`person_list`: the sorted store pseudonyms, the
-- first in hex, then the differences, comma-separated), so an append writes one row however many
-- persons an answer showed; `audit_persons`, the index by person behind "who looked at my data",
-- is filled from those lists in bulk, and `audit_indexed` says up to which entry it has been.
-- Entries written before this migration keep their persons in `audit_persons` only (NULL list).
ALTER TABLE audit_log ADD COLUMN person_list TEXT;

CREATE TABLE audit_indexed (
    id  BIGINT NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO audit_indexed (id, seq) SELECT 1, seq FROM audit_head WHERE id = 1;
