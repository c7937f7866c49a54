-- The small source of the MySQL tests (MySQL 9.7): the names of seed-small where MySQL has the kind, every table
-- InnoDB (the clone plugin copies InnoDB data only), plus what MySQL has that MariaDB lacks (JSON, functional index,
-- CHECK constraint, invisible column). Rows come from a recursive CTE: MySQL has no seq_1_to_N tables.
CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
USE shop;
SET SESSION cte_max_recursion_depth = 10000;
CREATE TABLE customers (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(190) NULL,
  balance DECIMAL(12,2) NOT NULL DEFAULT 0,
  profile JSON NULL,
  KEY idx_email (email),
  KEY idx_tier ((CAST(profile->>'$.tier' AS CHAR(10)) COLLATE utf8mb4_bin)),
  CONSTRAINT chk_balance CHECK (balance >= 0)
) ENGINE=InnoDB;
CREATE TABLE orders (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  placed_at DATETIME NOT NULL,
  note TEXT NULL,
  internal_ref VARCHAR(20) NULL INVISIBLE,
  KEY idx_customer (customer_id),
  CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB;
CREATE TABLE audit (id INT NOT NULL PRIMARY KEY, what VARCHAR(200)) ENGINE=InnoDB;
CREATE TABLE empty_table (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE order_tags (
  order_id INT UNSIGNED NOT NULL,
  tag VARCHAR(20) NOT NULL,
  PRIMARY KEY (order_id, tag)
) ENGINE=InnoDB;
CREATE TABLE events_log (id INT NOT NULL PRIMARY KEY, at DATETIME NOT NULL, what VARCHAR(50)) ENGINE=InnoDB PARTITION BY HASH (id) PARTITIONS 3;
CREATE VIEW big_customers AS SELECT id, name FROM customers WHERE balance > 100;
INSERT INTO customers (name, email, balance, profile)
  WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000)
  SELECT CONCAT('customer ', n), IF(n % 7 = 0, NULL, CONCAT('c', n, '@example.test')), n * 1.25,
         IF(n % 5 = 0, NULL, JSON_OBJECT('tier', ELT(1 + n % 3, 'gold', 'silver', 'bronze'), 'since', 2000 + n % 25)) FROM s;
INSERT INTO customers (name, email, balance) VALUES ('東京の客 🍣', NULL, 42.00);
INSERT INTO orders (customer_id, placed_at, note, internal_ref)
  WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000)
  SELECT 1 + (n % 2000), '2026-01-01 00:00:00' + INTERVAL n MINUTE, IF(n % 3 = 0, NULL, REPEAT('x', n % 50)), CONCAT('R', n) FROM s;
INSERT IGNORE INTO order_tags
  WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 8000)
  SELECT 1 + (n % 5000), ELT(1 + n % 4, 'gift', 'express', 'fragile', 'bulk') FROM s;
INSERT INTO audit WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300) SELECT n, CONCAT('event ', n) FROM s;
INSERT INTO events_log WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 600)
  SELECT n, '2026-01-01 00:00:00' + INTERVAL n HOUR, CONCAT('event ', n) FROM s;
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
-- A time zone in the server's time zone tables (as mysql_tzinfo_to_sql loads them), so losing them shows.
INSERT INTO mysql.time_zone (Use_leap_seconds) VALUES ('N');
SET @tz = LAST_INSERT_ID();
INSERT INTO mysql.time_zone_name (Name, Time_zone_id) VALUES ('Test/Plus2', @tz);
INSERT INTO mysql.time_zone_transition_type (Time_zone_id, Transition_type_id, `Offset`, Is_DST, Abbreviation) VALUES (@tz, 0, 7200, 0, 'TP2');
-- The service's accounts: a role with a default role, grants at every level (global, dynamic, database, table, column,
-- routine, proxy), resource limits, password expiry and a locked account. Not binlogged: the statements hold passwords.
SET SESSION sql_log_bin = 0;
CREATE ROLE shop_reader;
GRANT SELECT ON shop.* TO shop_reader;
CREATE USER 'shop_app'@'%' IDENTIFIED BY 'app-password-for-tests' WITH MAX_USER_CONNECTIONS 20;
GRANT shop_reader TO 'shop_app'@'%';
SET DEFAULT ROLE shop_reader TO 'shop_app'@'%';
GRANT PROCESS ON *.* TO 'shop_app'@'%';
GRANT REPLICATION_SLAVE_ADMIN ON *.* TO 'shop_app'@'%';
GRANT SELECT, INSERT ON shop.* TO 'shop_app'@'%';
GRANT INSERT, UPDATE, DELETE ON shop.orders TO 'shop_app'@'%';
GRANT UPDATE (email) ON shop.customers TO 'shop_app'@'%';
GRANT EXECUTE ON PROCEDURE shop.customer_orders TO 'shop_app'@'%';
CREATE USER 'shop_report'@'localhost' IDENTIFIED BY 'report-password-for-tests' PASSWORD EXPIRE INTERVAL 90 DAY;
GRANT PROXY ON 'shop_app'@'%' TO 'shop_report'@'localhost';
CREATE USER 'shop_old'@'localhost' ACCOUNT LOCK;
