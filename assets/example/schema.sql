-- The shop's data. This runs on every import, so it is written to be run again safely.
CREATE TABLE IF NOT EXISTS skus (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    price_cents INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS invoices (
    id          INTEGER PRIMARY KEY,
    sku_id      INTEGER NOT NULL REFERENCES skus (id),
    quantity    INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    created_at  TEXT    NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS purchase_orders (
    id           INTEGER PRIMARY KEY,
    sku_id       INTEGER NOT NULL REFERENCES skus (id),
    quantity     INTEGER NOT NULL,
    supplier_ref TEXT,
    status       TEXT    NOT NULL DEFAULT 'ordered',
    created_at   TEXT    NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS notifications (
    id         INTEGER PRIMARY KEY,
    channel    TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

INSERT OR IGNORE INTO skus (id, name, stock, price_cents) VALUES
    (1, 'Espresso beans 1 kg', 100, 2400),
    (2, 'Paper filters (100)', 500, 450),
    (3, 'Milk frother', 30, 3900);
