-- One database per service.
CREATE DATABASE gateway;
CREATE DATABASE catalog;
CREATE DATABASE seckill;
CREATE DATABASE scheduler;
