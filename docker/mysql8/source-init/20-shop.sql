-- The demo data of service shop-mysql8: InnoDB tables with keys, a view, utf8mb4 text and NULLs (MySQL 8 syntax).
CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
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
CREATE TABLE empty_table (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE VIEW big_customers AS SELECT id, name FROM customers WHERE balance > 100;
SET SESSION cte_max_recursion_depth = 10000;
INSERT INTO customers (name, email, balance)
  WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 2000)
  SELECT CONCAT('customer ', n), IF(n % 7 = 0, NULL, CONCAT('c', n, '@example.test')), n * 1.25 FROM seq;
INSERT INTO customers (name, email, balance) VALUES ('東京の客 🍣', NULL, 42.00);
INSERT INTO orders (customer_id, placed_at, note)
  WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 5000)
  SELECT 1 + (n % 2000), '2026-01-01 00:00:00' + INTERVAL n MINUTE, IF(n % 3 = 0, NULL, REPEAT('x', n % 50)) FROM seq;
