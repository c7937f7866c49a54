-- A small source for the tool's own tests: InnoDB and MyISAM tables, a view, utf8mb4 text, NULLs.
CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE shop;
CREATE TABLE customers (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(190) NULL,
  balance DECIMAL(12,2) NOT NULL DEFAULT 0,
  KEY idx_email (email)
) ENGINE=InnoDB;
CREATE TABLE orders (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  placed_at DATETIME NOT NULL,
  note TEXT NULL,
  KEY idx_customer (customer_id),
  CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB;
CREATE TABLE audit (id INT NOT NULL PRIMARY KEY, what VARCHAR(200)) ENGINE=MyISAM;
CREATE TABLE empty_table (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE order_tags (
  order_id INT UNSIGNED NOT NULL,
  tag VARCHAR(20) NOT NULL,
  PRIMARY KEY (order_id, tag)
) ENGINE=InnoDB;
CREATE VIEW big_customers AS SELECT id, name FROM customers WHERE balance > 100;
INSERT INTO customers (name, email, balance)
  SELECT CONCAT('customer ', seq), IF(seq % 7 = 0, NULL, CONCAT('c', seq, '@example.test')), seq * 1.25
  FROM seq_1_to_2000;
INSERT INTO customers (name, email, balance) VALUES ('東京の客 🍣', NULL, 42.00);
INSERT INTO orders (customer_id, placed_at, note)
  SELECT 1 + (seq % 2000), '2026-01-01 00:00:00' + INTERVAL seq MINUTE, IF(seq % 3 = 0, NULL, REPEAT('x', seq % 50))
  FROM seq_1_to_5000;
INSERT INTO order_tags SELECT 1 + (seq % 5000), ELT(1 + seq % 4, 'gift', 'express', 'fragile', 'bulk') FROM seq_1_to_8000
  ON DUPLICATE KEY UPDATE tag = tag;
INSERT INTO audit SELECT seq, CONCAT('event ', seq) FROM seq_1_to_300;
-- Schema objects the verifier compares: a trigger, a procedure, a function and an event.
DELIMITER //
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
BEGIN
  INSERT INTO audit (id, what) VALUES (100000 + NEW.id, CONCAT('order ', NEW.id));
END//
CREATE PROCEDURE customer_orders(IN cid INT UNSIGNED)
BEGIN
  SELECT id, placed_at FROM orders WHERE customer_id = cid ORDER BY id;
END//
CREATE FUNCTION order_count(cid INT UNSIGNED) RETURNS INT READS SQL DATA
BEGIN
  RETURN (SELECT COUNT(*) FROM orders WHERE customer_id = cid);
END//
DELIMITER ;
CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit WHERE id > 1000000;
-- One of every kind of table the catalog reports, so each kind's checks and faults are proven: Aria, partitioned,
-- system-versioned (with history rows) and a sequence (MyISAM and InnoDB above, the view too).
CREATE TABLE notes (id INT NOT NULL PRIMARY KEY, body VARCHAR(100)) ENGINE=Aria;
INSERT INTO notes SELECT seq, CONCAT('note ', seq) FROM seq_1_to_200;
CREATE TABLE events_log (id INT NOT NULL PRIMARY KEY, at DATETIME NOT NULL, what VARCHAR(50)) ENGINE=InnoDB PARTITION BY HASH (id) PARTITIONS 3;
INSERT INTO events_log SELECT seq, '2026-01-01 00:00:00' + INTERVAL seq HOUR, CONCAT('event ', seq) FROM seq_1_to_600;
CREATE TABLE prices (id INT NOT NULL PRIMARY KEY, price DECIMAL(8,2) NOT NULL, KEY idx_price (price)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
-- History rows are stamped with the session's time: fixed, so two servers seeded alike hold the same history.
SET @@timestamp = UNIX_TIMESTAMP('2026-01-01 00:00:00');
INSERT INTO prices SELECT seq, seq FROM seq_1_to_100;
SET @@timestamp = UNIX_TIMESTAMP('2026-01-02 00:00:00');
UPDATE prices SET price = price * 2 WHERE id <= 50;
SET @@timestamp = DEFAULT;
CREATE SEQUENCE invoice_seq START WITH 1000 INCREMENT BY 1;
SELECT NEXTVAL(invoice_seq);
-- A time zone in the server's time zone tables (as mariadb-tzinfo-to-sql loads them), so losing them shows.
INSERT INTO mysql.time_zone (Use_leap_seconds) VALUES ('N');
SET @tz = LAST_INSERT_ID();
INSERT INTO mysql.time_zone_name (Name, Time_zone_id) VALUES ('Test/Plus2', @tz);
INSERT INTO mysql.time_zone_transition_type (Time_zone_id, Transition_type_id, `Offset`, Is_DST, Abbreviation) VALUES (@tz, 0, 7200, 0, 'TP2');
