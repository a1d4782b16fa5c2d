CREATE TABLE IF NOT EXISTS hits (
    id       INTEGER PRIMARY KEY,
    listener TEXT NOT NULL,
    n        INTEGER
);
