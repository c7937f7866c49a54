-- The service's accounts: a role with a default role, grants at every level (global, database, table, column, routine,
-- proxy), resource limits, password expiry and a locked account. Not binlogged: the statements hold passwords.
SET SESSION sql_log_bin = 0;
CREATE ROLE shop_reader;
GRANT SELECT ON shop.* TO shop_reader;
CREATE USER 'shop_app'@'%' IDENTIFIED BY 'app-password-for-tests' WITH MAX_USER_CONNECTIONS 20;
GRANT shop_reader TO 'shop_app'@'%';
SET DEFAULT ROLE shop_reader FOR 'shop_app'@'%';
GRANT PROCESS ON *.* TO 'shop_app'@'%';
GRANT SELECT, INSERT ON shop.* TO 'shop_app'@'%';
GRANT INSERT, UPDATE, DELETE ON shop.orders TO 'shop_app'@'%';
GRANT UPDATE (email) ON shop.customers TO 'shop_app'@'%';
GRANT EXECUTE ON PROCEDURE shop.customer_orders TO 'shop_app'@'%';
CREATE USER 'shop_report'@'localhost' IDENTIFIED BY 'report-password-for-tests' PASSWORD EXPIRE INTERVAL 90 DAY;
GRANT PROXY ON 'shop_app'@'%' TO 'shop_report'@'localhost';
CREATE USER 'shop_old'@'localhost' ACCOUNT LOCK;
