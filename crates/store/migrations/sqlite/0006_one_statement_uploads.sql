-- Nothing to do on SQLite; both backends keep the same versions. PostgreSQL's version 6
-- adds `userorder_abort`, with which one statement takes back what it wrote (SQLite's
-- writer undoes a refused upload inside its batch), and re-leads the payer's index with
-- openid, which PostgreSQL's planner mistook for the primary key while its statistics
-- were young (SQLite's planner prefers the index that matches more columns).
SELECT 1;
